"""Value tags and score, and the 7-day replacement metric, as pure logic over plain data."""

from datetime import date

import pytest
import yaml
from pydantic import ValidationError

from rules.loader import DEFAULTS_DIR
from rules.reports import Outcome, advanced_within, is_valid_todo, progress, progress_by, value
from rules.schema import ReportsFile

TAGS = ReportsFile.model_validate(yaml.safe_load((DEFAULTS_DIR / "reports.yaml").read_text(encoding="utf-8"))).value_tags
TODO = {"text": "发报价", "due": "2026-12-04", "customer": "华东医疗"}


@pytest.mark.parametrize(("body", "score", "tags"), [
    ({}, 0, []),
    ({"contacts": [{"name": "王总", "title": "CIO", "change": True}]}, 10, ["决策链更新"]),  # half of full: 2
    ({"contacts": [{"name": "王总", "title": "CTO", "change": False}]}, 0, []),  # a known contact, nothing new
    ({"contacts": [{"name": "老刘", "title": None}]}, 0, []),  # no title: no decision-chain news
    ({"competitors": ["销售易"]}, 15, ["竞品动态"]),
    ({"keywords": ["POC"]}, 8, ["方案进展"]),
    ({"keywords": ["poc", "演示"]}, 15, ["方案进展"]),  # case does not matter
    ({"keywords": ["报价", "合同"]}, 0, []),  # keywords outside the tag's list
    ({"todos": [TODO]}, 5, ["有效待办"]),
    ({"todos": [{**TODO, "due": None}]}, 0, []),  # no date: not a valid todo
    ({"todos": [{**TODO, "customer": None}]}, 0, []),  # no customer: not a valid todo
    ({"stage_changes": [{"customer": "华东医疗", "from": "线索", "to": "需求确认"}]}, 20, ["阶段推进"]),
    ({"feedback": [{"keyword": "价格高", "polarity": "negative"}]}, 3, ["客户反馈"]),
    ({"amounts": [{"text": "预算一千万", "value": 10_000_000}]}, 5, ["金额"]),
    ({"contacts": [{"name": "王总", "title": "CIO"}], "competitors": ["用友"], "keywords": ["演示"], "todos": [TODO],
      "stage_changes": [{}], "feedback": [{}]}, 61, ["决策链更新", "竞品动态", "方案进展", "有效待办", "阶段推进", "客户反馈"]),
], ids=["empty", "new_title", "known_title", "no_title", "competitor", "solution", "solution_case", "other_keywords",
        "valid_todo", "todo_without_due", "todo_without_customer", "stage", "feedback", "amount", "one_of_each"])
def test_value_tags_and_score(body, score, tags):
    assert value(body, TAGS) == (score, tags)


def _todos(n):
    return [{**TODO, "text": f"待办{i}"} for i in range(n)]


QUIET_DAY = {"feedback": [{"keyword": "再考虑", "polarity": "negative"}, {"keyword": "感兴趣", "polarity": "positive"}],
             "todos": _todos(2), "keywords": ["方案"], "amounts": [{"text": "预算50万", "value": 500_000}],
             "contacts": [{"name": "王总", "title": "CTO", "change": False}]}
NEWS_DAY = {"contacts": [{"name": "李总", "title": "CFO"}], "competitors": ["用友"], "todos": _todos(2),
            "feedback": [{}, {}], "keywords": ["演示"], "amounts": [{"text": "80万", "value": 800_000}]}
BIG_DAY = {"contacts": [{"name": "李总", "title": "CFO"}, {"name": "王明", "title": "CTO"}], "competitors": ["用友"],
           "todos": _todos(3), "feedback": [{}, {}, {}], "keywords": ["POC", "部署"], "stage_changes": [{}],
           "amounts": [{"text": "80万", "value": 800_000}]}


def test_realistic_days_spread_over_the_range_and_only_a_big_day_reaches_the_top():
    scores = [value(day, TAGS)[0] for day in (QUIET_DAY, NEWS_DAY, BIG_DAY)]
    assert scores == [29, 54, 100]  # reports.yaml: ≈30 an ordinary day, ≈60 real news, 90+ a day that moved deals


def test_more_items_earn_more_up_to_the_tag_weight():
    assert [value({"todos": _todos(n)}, TAGS)[0] for n in range(5)] == [0, 5, 10, 15, 15]


def test_a_tag_file_with_an_unknown_trigger_is_refused():
    with pytest.raises(ValidationError, match="未知的触发条件「mood」"):
        ReportsFile.model_validate({"value_tags": [{"name": "心情", "weight": 5, "when": "mood"}]})
    with pytest.raises(ValidationError, match="价值标签重复：竞品动态"):
        ReportsFile.model_validate({"value_tags": [{"name": "竞品动态", "weight": 5, "when": "competitors"}] * 2})


@pytest.mark.parametrize(("todo", "valid"), [
    (TODO, True), ({**TODO, "text": "  "}, False), ({"text": "发报价"}, False), ({}, False)])
def test_valid_todo_says_what_for_whom_by_when(todo, valid):
    assert is_valid_todo(todo) is valid


@pytest.mark.parametrize(("moved", "advanced"), [
    ([], False),
    ([date(2026, 12, 1)], False),  # the report's own day is what it reports, not what it drove
    ([date(2026, 12, 2)], True),
    ([date(2026, 12, 8)], True),  # day 7 still counts
    ([date(2026, 12, 9)], False),
    ([date(2026, 11, 30)], False),
], ids=["none", "same_day", "next_day", "day_7", "day_8", "before"])
def test_advanced_within_seven_days_after_the_report(moved, advanced):
    assert advanced_within(date(2026, 12, 1), moved, 7) is advanced


def outcome(rep, team, todos, advanced):
    return Outcome(rep=rep, team=team, has_valid_todos=todos, advanced=advanced)


def test_progress_compares_reports_with_and_without_valid_todos():
    rows = [outcome("lilei", "华东一组", True, True), outcome("lilei", "华东一组", True, False),
            outcome("lilei", "华东一组", False, False), outcome("wang", "华东一组", True, True),
            outcome("wang", "华东一组", False, True), outcome("han", None, False, False)]
    team = progress_by(rows, lambda o: o.team)
    assert list(team) == ["华东一组"]  # reports of people in no team are left out of team figures
    assert team["华东一组"].to_dict() == {"with_todos": {"reports": 3, "advanced": 2, "rate": 0.667},
                                       "without_todos": {"reports": 2, "advanced": 1, "rate": 0.5}, "lift": 1.33}
    reps = progress_by(rows, lambda o: o.rep)
    assert (reps["lilei"].with_todos.rate, reps["lilei"].without_todos.rate, reps["lilei"].lift) == (0.5, 0.0, None)
    assert (reps["han"].with_todos.rate, reps["han"].without_todos.rate) == (None, 0.0)
    assert progress([]).to_dict()["lift"] is None
