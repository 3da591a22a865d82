from datetime import date

import pytest

from nlp import Extractor, Lexicon, match_customer
from nlp.names import derived_aliases

CUSTOMERS = [
    ("华东医疗器械有限公司", ["华东医疗"]),
    ("华东医药股份有限公司", []),
    ("华南医疗器械有限公司", []),
    ("招商银行股份有限公司", ["招行"]),
    ("招商证券股份有限公司", []),
    ("中国平安保险(集团)股份有限公司", ["平安"]),
    ("平安银行股份有限公司", []),
    ("深圳市腾讯计算机系统有限公司", []),
    ("宁德时代新能源科技股份有限公司", []),
    ("杭州市第一人民医院", []),
    ("上海浦东发展银行股份有限公司", ["浦发"]),
]
TODAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon(customers=[(name, list(aliases)) for name, aliases in CUSTOMERS])


@pytest.mark.parametrize(
    ("mention", "expected"),
    [
        ("华东医疗", "华东医疗器械有限公司"),
        ("华东医疗器械有限公司", "华东医疗器械有限公司"),
        ("华东医药", "华东医药股份有限公司"),
        ("华南医疗", "华南医疗器械有限公司"),
        ("招行", "招商银行股份有限公司"),
        ("招商证券", "招商证券股份有限公司"),
        ("平安银行", "平安银行股份有限公司"),
        ("平安", "中国平安保险(集团)股份有限公司"),
        ("腾讯", "深圳市腾讯计算机系统有限公司"),
        ("宁德时代", "宁德时代新能源科技股份有限公司"),
        ("宁德", "宁德时代新能源科技股份有限公司"),
        ("华东医疗器材", "华东医疗器械有限公司"),
        ("宁德时代新能源", "宁德时代新能源科技股份有限公司"),
    ],
)
def test_look_alike_names_resolve_to_the_right_customer(lexicon: Lexicon, mention: str, expected: str) -> None:
    result = match_customer(mention, lexicon)
    assert (result.best, result.ambiguous) == (expected, False)


def test_a_prefix_shared_by_two_customers_is_ambiguous(lexicon: Lexicon) -> None:
    result = match_customer("华东", lexicon)
    assert result.ambiguous
    assert {name for name, _ in result.candidates} >= {"华东医疗器械有限公司", "华东医药股份有限公司"}


def test_a_brand_shared_by_two_customers_is_ambiguous(lexicon: Lexicon) -> None:
    result = match_customer("招商", lexicon)
    assert result.ambiguous
    assert {name for name, _ in result.candidates} == {"招商银行股份有限公司", "招商证券股份有限公司"}


def test_a_name_close_to_nothing_has_no_best_candidate(lexicon: Lexicon) -> None:
    assert match_customer("北京字节跳动", lexicon).best is None


def test_empty_mention_matches_nothing(lexicon: Lexicon) -> None:
    assert match_customer("  ", lexicon).best is None


def test_matching_ignores_full_width_and_case() -> None:
    lexicon = Lexicon(customers=[("ABB（中国）有限公司", ["ABB"])])
    assert match_customer("ａｂｂ", lexicon).best == "ABB（中国）有限公司"


def test_a_public_body_keeps_its_region_in_short_names() -> None:
    assert "第一人民医院" not in derived_aliases("杭州市第一人民医院")


def test_a_generic_remainder_is_no_short_name() -> None:
    assert derived_aliases("华东医药股份有限公司") == ["华东医药"]


def test_a_district_prefix_is_no_short_name() -> None:
    assert "上海浦东" not in derived_aliases("上海浦东发展银行股份有限公司")


def test_mentions_in_text_resolve_with_the_mention_as_written(lexicon: Lexicon) -> None:
    result = Extractor(lexicon).extract("上午去了华东医疗，下午拜访华东医药", TODAY)
    assert result.to_dict()["customers"] == [
        {"name": "华东医疗器械有限公司", "mention": "华东医疗"},
        {"name": "华东医药股份有限公司", "mention": "华东医药"},
    ]


def test_an_ambiguous_mention_in_text_is_reported_for_asking_not_guessed() -> None:
    lexicon = Lexicon(customers=[("华东医疗器械有限公司", []), ("华东医疗科技有限公司", [])])
    result = Extractor(lexicon).extract("华东医疗那边还在推进", TODAY)
    assert result.customers == []
    assert [(a.mention, sorted(a.candidates)) for a in result.ambiguous] == [
        ("华东医疗", ["华东医疗器械有限公司", "华东医疗科技有限公司"])
    ]


def test_an_explicit_alias_beats_a_short_form_derived_for_another_customer(lexicon: Lexicon) -> None:
    assert match_customer("华东医疗", lexicon) == match_customer("华东医疗器械有限公司", lexicon)


def test_a_bare_region_in_text_names_no_customer(lexicon: Lexicon) -> None:
    result = Extractor(lexicon).extract("华东那边还在推进", TODAY)
    assert (result.customers, result.ambiguous) == ([], [])


def test_an_unknown_company_in_text_is_not_matched_to_a_look_alike(lexicon: Lexicon) -> None:
    result = Extractor(lexicon).extract("新线索：苏州博众精密机械有限公司，明天电话沟通", TODAY)
    assert result.customers == []
    assert result.unknown == ["苏州博众精密机械有限公司"]


def test_a_one_character_typo_of_a_long_name_still_matches(lexicon: Lexicon) -> None:
    result = Extractor(lexicon).extract("华东医了器械的王总回复了", TODAY)
    assert [c.name for c in result.customers] == ["华东医疗器械有限公司"]


def test_a_building_named_after_a_customer_is_no_mention(lexicon: Lexicon) -> None:
    assert Extractor(lexicon).extract("在中国平安大厦楼下等人", TODAY).customers == []


def test_adding_a_customer_to_the_lexicon_takes_effect(lexicon: Lexicon) -> None:
    extractor = Extractor(Lexicon(customers=list(lexicon.customers)))
    assert extractor.extract("明天去比亚迪", TODAY).customers == []
    extractor.lexicon.customers.append(("比亚迪股份有限公司", []))
    assert [c.name for c in extractor.extract("明天去比亚迪", TODAY).customers] == ["比亚迪股份有限公司"]


def test_one_tenants_names_do_not_change_another_tenants_text() -> None:
    first = Extractor(Lexicon(customers=[("王总和科技有限公司", ["王总和"])]))
    second = Extractor(Lexicon())
    assert [c.name for c in first.extract("王总和李主任", TODAY).customers] == ["王总和科技有限公司"]
    assert [c.name for c in second.extract("王总和李主任", TODAY).contacts] == ["王总", "李主任"]
