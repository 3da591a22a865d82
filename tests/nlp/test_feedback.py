from pathlib import Path

import pytest
import yaml

from nlp.feedback import FeedbackMatcher
from nlp.segment import fold

VOCABULARY = yaml.safe_load((Path(__file__).resolve().parents[2] / "rules/defaults/reports.yaml").read_text("utf-8"))
MATCHER = FeedbackMatcher(VOCABULARY["feedback"]["negative"], VOCABULARY["feedback"]["positive"])


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
        ("今年没预算了", [("没有预算", "negative")]),
        ("流程比较长", [("流程长", "negative")]),
        ("对方案很感兴趣", [("感兴趣", "positive")]),
        ("预算已经批了", [("预算已批", "positive")]),
        ("宁德时代 POC 通过了", [("POC通过", "positive")]),
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
    assert hits("客户对结果不满意") == [("不满意", "negative")]
    assert hits("客户不感兴趣") == [("不感兴趣", "negative")]


def test_a_positive_word_in_our_own_plan_is_no_feedback() -> None:
    assert hits("周五前确认报价") == []
    assert hits("需要再确认一下") == []


def test_a_positive_word_said_of_the_customer_is_feedback() -> None:
    assert hits("刘总确认了") == [("确认", "positive")]


def test_each_keyword_is_reported_once_in_order_of_appearance() -> None:
    assert hits("价格高，很感兴趣，价格还是高") == [("价格高", "negative"), ("感兴趣", "positive")]


def test_punctuation_ends_a_phrase() -> None:
    assert hits("价格表给了，高总说再看") == []
