"""Competitors named without a lexicon, and contact titles in every order."""

from datetime import date

import pytest

from nlp import extract

TODAY = date(2026, 12, 4)


@pytest.mark.parametrize(
    ("text", "rivals"),
    [
        ("竞品鼎信已经进场了", ["鼎信"]),
        ("友商蓝海科技报了个白菜价", ["蓝海科技"]),
        ("宏图软件报价更低，客户拿来压价", ["宏图软件"]),
        ("客户说云杉科技那边报价更低", ["云杉科技"]),
        ("客户在和云杉科技比", ["云杉科技"]),
        ("隔壁家微企通给他们免费试用", ["微企通"]),
        ("友商明远给的价格比我们低三成", ["明远"]),
        ("据说巨鲸也在投", ["巨鲸"]),
        ("慧策报了，比我们便宜", ["慧策"]),
        ("他们一直用简道云，觉得够用", ["简道云"]),
        ("友商聚水潭昨天去讲了方案", ["聚水潭"]),
        ("竞品巨鲸和慧策都来了", ["巨鲸", "慧策"]),
        ("在跟巨鲸、启明软件两家比", ["巨鲸", "启明软件"]),
        ("隔壁星河ERP打了七折", ["星河ERP"]),
        ("友商Blue Ocean开价更低", ["Blue Ocean"]),
    ],
)
def test_a_rival_is_found_from_how_it_is_mentioned(text: str, rivals: list[str]) -> None:
    assert extract(text, TODAY).competitors == rivals


def test_two_rivals_are_never_one_name() -> None:
    assert "泛微和致远" not in extract("在跟泛微和致远比", TODAY).competitors


@pytest.mark.parametrize("text", ["竞品分析报告明天发", "和我们比贵了一点", "跟去年比好多了", "友商的售后跟不上",
                                  "领导们也来了，开了个短会", "科室一直用的是手工台账", "现在是新来的主任在跟"])
def test_words_around_a_rival_phrase_are_no_rival(text: str) -> None:
    assert [c for c in extract(text, TODAY).competitors if c not in ("友商", "竞品")] == []


@pytest.mark.parametrize(
    ("text", "name", "title"),
    [
        ("李总CFO说价格有点高", "李总", "CFO"),
        ("李总 CFO说价格有点高", "李总", "CFO"),
        ("CFO李总说价格有点高", "李总", "CFO"),
        ("财务总监李总说价格有点高", "李总", "财务总监"),
        ("李总（CFO）说价格有点高", "李总", "CFO"),
        ("赵伟CTO说要汇报", "赵伟", "CTO"),
        ("厂长老孙说资金紧张", "老孙", "厂长"),
        ("老孙（厂长）说资金紧张", "老孙", "厂长"),
    ],
)
def test_a_contact_keeps_its_title_in_any_order(text: str, name: str, title: str) -> None:
    assert [(c.name, c.title) for c in extract(text, TODAY).contacts] == [(name, title)]


def test_a_role_after_one_person_is_not_given_to_the_next() -> None:
    found = extract("李总CFO 王总CTO都到了", TODAY).contacts
    assert [(c.name, c.title) for c in found] == [("李总", "CFO"), ("王总", "CTO")]


@pytest.mark.parametrize(
    ("text", "rivals"),
    [("人家纷享销客报得比我们低三成", ["纷享销客"]), ("友商X那边报价更低", ["X"]), ("客户说明源那套只要8万", ["明源"]),
     ("客户说再考虑考虑，跟其他几家比比看", []), ("人家明确拒绝了，说没这个需求", [])],
)
def test_a_rival_is_named_once_and_a_pronoun_is_none(text: str, rivals: list[str]) -> None:
    assert [c for c in extract(text, TODAY).competitors if c not in ("友商", "竞品")] == rivals


@pytest.mark.parametrize(
    ("text", "name", "title"),
    [("副院长周院长对方案很认可", "周院长", "副院长"), ("技术副总监王斌问了很多接口的问题", "王斌", "技术副总监"),
     ("运营VP赵总对我们很感兴趣", "赵总", "运营VP"), ("局长助理小孙说局长对方案挺认可的", "小孙", "局长助理"),
     ("总工程师马工担心售后", "马工", "总工程师"), ("分管副总杨总要重新评估", "杨总", "分管副总")],
)
def test_a_compound_title_before_a_name_is_kept_whole(text: str, name: str, title: str) -> None:
    assert (name, title) in [(c.name, c.title) for c in extract(text, TODAY).contacts]
