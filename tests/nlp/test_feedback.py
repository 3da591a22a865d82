from datetime import date
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from nlp import Extractor
from nlp.feedback import FeedbackMatcher
from nlp.lexicon import Lexicon
from nlp.segment import fold
from rules.schema import Feedback

VOCABULARY = yaml.safe_load((Path(__file__).resolve().parents[2] / "rules/defaults/reports.yaml").read_text("utf-8"))
TODAY = date(2026, 12, 4)
MATCHER = FeedbackMatcher(VOCABULARY["feedback"]["negative"], VOCABULARY["feedback"]["positive"])
SHIPPED = Extractor(Lexicon.from_vocabulary(VOCABULARY))



def hits(text: str) -> list[tuple[str, str]]:
    return [(h.keyword, h.polarity) for h in MATCHER.find(fold(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("客户觉得价格高", [("价格高", "negative")]),
        ("王总说价格有点高", [("价格高", "negative")]),
        ("报价比竞品高了15%", [("价格高", "negative")]),
        ("价格太贵了", [("价格高", "negative")]),
        ("还得走审批", [("需要审批", "negative")]),
        ("还需要领导审批", [("需要审批", "negative")]),
        ("要上会审批", [("需要审批", "negative")]),
        ("今年没预算了", [("预算不足", "negative")]),
        ("流程比较长", [("需要审批", "negative")]),
        ("对方案很感兴趣", [("感兴趣", "positive")]),
        ("预算已经批了", [("预算到位", "positive")]),
        ("宁德时代 POC 通过了", [("认可方案", "positive")]),
    ],
)
def test_vocabulary_phrase_is_found_with_words_in_between(text: str, expected: list[tuple[str, str]]) -> None:
    assert hits(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "价格不高",
        "价格并不算高",
        "不觉得价格高",
        "不需要走流程",
        "也不需要审批",
        "预算还没批",
        "没有顾虑",
        "对方不是不满意",
    ],
)
def test_a_negated_phrase_is_no_feedback(text: str) -> None:
    assert hits(text) == []


def test_buguo_is_no_negation() -> None:
    assert hits("不过要上会审批") == [("需要审批", "negative")]


def test_the_negative_phrase_wins_over_the_positive_inside_it() -> None:
    assert hits("客户对结果不满意") == [("效果存疑", "negative")]
    assert hits("客户不感兴趣") == [("不感兴趣", "negative")]


def test_a_positive_word_in_our_own_plan_is_no_feedback() -> None:
    assert hits("周五前确认报价") == []
    assert hits("需要再确认一下") == []


def test_a_positive_word_said_of_the_customer_is_feedback() -> None:
    assert hits("刘总确认了") == [("同意推进", "positive")]


def test_each_category_is_reported_once_in_order_of_appearance() -> None:
    assert hits("价格高，很感兴趣，价格还是高") == [("价格高", "negative"), ("感兴趣", "positive")]


def test_punctuation_ends_a_phrase() -> None:
    assert hits("价格表给了，高总说再看") == []


@pytest.mark.parametrize(
    ("text", "category", "words"),
    [
        ("客户说项目往后放放，明年再说吧", "决策延迟", "往后放放"),
        ("他们今年钱不够", "预算不足", "钱不够"),
        ("人家报得比我们低", "竞品更便宜", "报得比我们低"),
        ("担心售后响应慢", "售后担忧", "售后响应慢"),
        ("一线反馈操作太复杂", "操作复杂", "操作太复杂"),
    ],
)
def test_a_category_is_found_in_other_words_and_shows_them(text: str, category: str, words: str) -> None:
    found = MATCHER.find(fold(text))
    assert [h.keyword for h in found][:1] == [category]
    assert found[0].words == words


@pytest.mark.parametrize("text", ["价格不贵", "这次不用走审批", "预算不是不够", "售后他们不担心"])
def test_a_negated_category_phrase_is_no_objection(text: str) -> None:
    assert [h for h in MATCHER.find(fold(text)) if h.polarity == "negative"] == []


def test_an_old_plain_phrase_list_still_works_one_category_per_phrase() -> None:
    legacy = Lexicon.from_vocabulary({"feedback": {"negative": ["价格高"], "positive": ["感兴趣"]}})
    assert [(h.keyword, h.words) for h in legacy.index().feedback.find(fold("价格有点高"))] == [("价格高", "价格有点高")]


@pytest.mark.parametrize(("text", "category"), [("他们的服务响应太慢", "售后担忧"), ("对运维这块很担心", "售后担忧"),
                                                ("预算已经全部到位了", "预算到位"), ("录入步骤太多了", "操作复杂")])
def test_a_pair_rule_finds_both_words_in_one_clause_in_either_order(text: str, category: str) -> None:
    assert [h.keyword for h in MATCHER.find(fold(text))] == [category]


@pytest.mark.parametrize("text", ["售后响应不慢", "服务，慢慢来", "我们的服务不差"])
def test_a_pair_rule_needs_both_words_unnegated_in_one_clause(text: str) -> None:
    assert [h for h in MATCHER.find(fold(text)) if h.keyword == "售后担忧"] == []


def test_a_pair_rule_with_an_empty_side_is_refused() -> None:
    with pytest.raises(ValidationError, match="「\\+」两边都要有词"):
        Feedback.model_validate({"negative": {"售后担忧": ["售后+"]}})


@pytest.mark.parametrize(("text", "rivals"), [("隔壁销售易打包价只要12万", ["销售易"]), ("人家金蝶直接五折给他们了", ["金蝶"]),
                                              ("IT总监说钉钉那套几乎免费", ["钉钉"])])
def test_a_named_rival_with_a_cheaper_word_in_the_clause_is_a_cheaper_rival(text: str, rivals: list[str]) -> None:
    got = SHIPPED.extract(text, TODAY)
    assert (got.competitors, [f.keyword for f in got.feedback]) == (rivals, ["竞品更便宜"])


@pytest.mark.parametrize("text", ["隔壁星瀚已经去演示过两轮", "销售易报价比我们高，客户倾向我们"])
def test_a_rival_named_without_being_cheaper_is_no_price_objection(text: str) -> None:
    got = SHIPPED.extract(text, TODAY)
    assert got.competitors and [f.keyword for f in got.feedback] == []


def test_a_rival_side_matches_only_a_named_rival() -> None:
    assert hits("客户说打包价只要12万") == []


@pytest.mark.parametrize("text", ["今天跟客户开了个线上会", "打电话确认了开标时间", "发了三份报价 分别对应基础版、专业版",
                                  "下午把方案改好发过去了", "客户要了两个同行业的案例"])
def test_an_action_of_ours_is_no_customer_signal(text: str) -> None:
    assert hits(text) == []


@pytest.mark.parametrize(("text", "category"), [("客户关心运维支持能不能保证", "售后担忧"),
                                                ("财务总监说能不能明年再付", "决策延迟"),
                                                ("问我们有没有服务团队 怕实施完就没人了", "售后担忧"),
                                                ("暂时不换 明年看情况", "决策延迟"),
                                                ("客户对ROI还是存疑，说回本周期太长了", "效果存疑"),
                                                ("王总怕出了bug找不到人", "售后担忧"),
                                                ("这事又被拖到下个月了", "决策延迟"),
                                                ("客户那边说不急，等新系统稳定了再议", "决策延迟")])
def test_a_topic_with_an_attitude_makes_the_category_and_a_question_negates_nothing(text: str, category: str) -> None:
    assert category in [k for k, _ in hits(text)]


def test_not_needing_approval_and_buying_directly_is_agreement() -> None:
    assert hits("老板拍板了 不需要审批 下周直接签") == [("同意推进", "positive")]


def test_the_rival_price_higher_than_ours_is_no_price_objection() -> None:
    assert hits("竞品SAP在报 价格比我们高 但客户更信SAP") == []


def test_signing_directly_because_no_approval_is_needed_is_no_agreement() -> None:
    assert hits("这种小单不需要审批，科长可以直接签") == []


def test_a_new_head_the_decision_waits_for_is_a_delay_not_a_change_of_contact() -> None:
    assert [k for k, _ in hits("等新主任到任再定吧")] == ["决策延迟"]


def test_a_question_answered_no_is_no_objection() -> None:
    assert hits("对接人调走了吗？没有，还是刘科长") == []


@pytest.mark.parametrize("text", ["运维费太离谱了", "客户觉得年费不划算"])
def test_a_fee_said_to_be_not_worth_it_is_a_price_objection(text: str) -> None:
    assert [k for k, _ in hits(text)] == ["价格高"]


def test_a_cheaper_rival_subsumes_the_comparison_with_it() -> None:
    assert [f.keyword for f in SHIPPED.extract("他们在跟慧策比，慧策便宜三成", TODAY).feedback] == ["竞品更便宜"]


@pytest.mark.parametrize("text", ["他们说这套东西挺好看的", "说好了下周三再碰"])
def test_a_good_that_starts_another_word_is_no_approval(text: str) -> None:
    assert "认可方案" not in [k for k, _ in hits(text)]
