import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlp import MAX_CHARS, Extractor, Lexicon, extract, init

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 12, 1)
CONTRACT_KEYS = ["customers", "contacts", "keywords", "feedback", "todos", "amounts", "competitors"]
# Pieces of real notes, so that generated texts reach every rule and not only the empty paths.
PIECES = [
    "华东医疗", "王总", "(CTO)", "CTO王明", "李主任", "下周三", "周五前", "15号", "月底", "春节前", "明天下午3点",
    "一千万", "1.2个亿", "1,200万", "30-50万", "价格不高", "价格高", "需要审批", "竞品是", "销售易", "安排", "发给",
    "，", "。", "\n", "1. ", "待办：", "😂", "🔥", "SELECT * FROM t;", "'; DROP TABLE x; --", "ｆｕｌｌ", "Ω", "\u200b",
    "\ud7ff", "十万火急", "号", "万", "周", "前", "后", "内", "老刘", "华", "平安大厦",
]


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    vocabulary = yaml.safe_load((ROOT / "rules/defaults/reports.yaml").read_text("utf-8"))
    return Extractor(
        Lexicon.from_vocabulary(
            vocabulary,
            customers=[("华东医疗器械有限公司", ["华东医疗"]), ("华东医药股份有限公司", []), "中国平安保险(集团)股份有限公司"],
            contacts=[("王明", "CTO", "华东医疗器械有限公司")],
        )
    )


def _check(result_dict: dict) -> None:
    assert list(result_dict) == CONTRACT_KEYS
    json.dumps(result_dict, ensure_ascii=False)
    for todo in result_dict["todos"]:
        assert todo["due"] is None or date.fromisoformat(todo["due"])
    assert all(isinstance(a["value"], int) and a["value"] > 0 for a in result_dict["amounts"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_string_extracts_without_error(extractor: Extractor, text: str) -> None:
    _check(extractor.extract(text, TODAY).to_dict())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=40), today=st.dates(date(2000, 1, 1), date(2099, 12, 31)))
def test_any_mix_of_note_fragments_extracts_without_error(extractor: Extractor, pieces: list[str], today: date) -> None:
    _check(extractor.extract("".join(pieces), today).to_dict())


@pytest.mark.parametrize("text", ["", "   ", "😂😂😂🔥🎉", "\n\n\n", "。。。，，，", "\x00\x01", "Ω≈ç√∫˜µ≤≥÷", "ｱｲｳ"])
def test_texts_without_content_give_an_empty_extraction(extractor: Extractor, text: str) -> None:
    result = extractor.extract(text, TODAY).to_dict()
    assert all(result[key] == [] for key in CONTRACT_KEYS if key != "keywords")


def test_sql_like_text_is_just_text(extractor: Extractor) -> None:
    text = "客户 '; DROP TABLE customers; -- 华东医疗 SELECT * FROM users WHERE 1=1"
    assert [c["name"] for c in extractor.extract(text, TODAY).to_dict()["customers"]] == ["华东医疗器械有限公司"]


def test_a_20000_character_paste_returns_and_is_cut_at_the_cap(extractor: Extractor) -> None:
    note = "今天拜访了华东医疗，王总觉得价格高。下周三安排演示，预算一千万。"
    paste = (note * (20_000 // len(note) + 1))[:20_000]
    result = extractor.extract(paste, TODAY)
    assert result.truncated
    assert result.to_dict() == extractor.extract(paste[:MAX_CHARS], TODAY).to_dict()


def test_a_text_at_the_cap_is_not_marked_truncated(extractor: Extractor) -> None:
    assert not extractor.extract("好" * MAX_CHARS, TODAY).truncated


def test_the_same_text_gives_the_same_extraction(extractor: Extractor) -> None:
    text = "华东医疗王总(CTO)说价格高，下周三安排POC，预算350万，竞品是销售易。周五前发报价给李主任。"
    assert extractor.extract(text, TODAY).to_dict() == extractor.extract(text, TODAY).to_dict()


def test_the_contract_example_shape_comes_out(extractor: Extractor) -> None:
    text = "今天拜访了华东医疗，王总(CTO)对方案演示感兴趣，但觉得价格高，需要审批。预算一千万，竞品是某竞品。下周三安排技术总监做方案演示。"
    out = extractor.extract(text, date(2026, 11, 26)).to_dict()
    assert out["customers"] == [{"name": "华东医疗器械有限公司", "mention": "华东医疗"}]
    assert out["contacts"] == [{"name": "王总", "title": "CTO", "customer": "华东医疗器械有限公司"}]
    assert {"方案演示", "审批"} <= set(out["keywords"])
    assert {"keyword": "价格高", "polarity": "negative", "words": "价格高"} in out["feedback"]  # "words": allowed addition
    assert out["todos"] == [{"text": "安排技术总监做方案演示", "due": "2026-12-02", "customer": "华东医疗器械有限公司"}]
    assert out["amounts"] == [{"text": "预算一千万", "value": 10_000_000}]
    assert out["competitors"] == [{"name": "某竞品"}]


def test_init_can_be_called_again() -> None:
    init()
    init()


def test_extract_works_without_a_lexicon() -> None:
    out = extract("明天给王总发报价，预算50万", TODAY).to_dict()
    assert out["todos"][0]["due"] == "2026-12-02"
    assert out["amounts"][0]["value"] == 500_000


def test_a_wrongly_shaped_vocabulary_names_the_key() -> None:
    with pytest.raises(ValueError, match="vocabulary.products"):
        Lexicon.from_vocabulary({"vocabulary": {"products": "CRM"}})
