import pytest

from nlp.amounts import find_amounts, parse_amount
from nlp.segment import fold

CASES = [
    ("一千万", 10_000_000),
    ("350万", 3_500_000),
    ("2.5亿", 250_000_000),
    ("1.2个亿", 120_000_000),
    ("一个亿", 100_000_000),
    ("两个亿", 200_000_000),
    ("1,200万", 12_000_000),
    ("三十五点五万", 355_000),
    ("1.5w", 15_000),
    ("200W", 2_000_000),
    ("50k", 50_000),
    ("30万元", 300_000),
    ("预算800万", 8_000_000),
    ("两百万", 2_000_000),
    ("一百二十万", 1_200_000),
    ("一万二", 12_000),
    ("12万5", 125_000),
    ("3千万", 30_000_000),
    ("5千", 5_000),
    ("12000元", 12_000),
    ("3000块钱", 3_000),
    ("三千块", 3_000),
    ("１２０万", 1_200_000),
    ("¥860,000", 860_000),  # a currency sign before the number is money too
    ("￥ 1,000,000", 1_000_000),
    ("¥8万", 80_000),
    ("人民币贰佰万元整", 2_000_000),  # capital numerals, as on receipts and contracts
    ("叁拾伍万元", 350_000),
    ("壹佰贰拾万", 1_200_000),
    ("1.5个w", 15_000),
    ("金额1,080,000", 1_080_000),  # after 金额 or 共计 a bare number is money
    ("共计120000", 120_000),
    ("到账 45000", 45_000),  # and after a receipt word: 到账, 打款, 收款, 转账, 回款
    ("打款六千八", 6_800),
    ("回款 8万", 80_000),
]


@pytest.mark.parametrize(("text", "value"), CASES, ids=[c[0] for c in CASES])
def test_amount_expression_parses_to_yuan(text: str, value: int) -> None:
    assert parse_amount(fold(text)) == value


def test_the_amount_text_keeps_the_budget_cue_before_it() -> None:
    [amount] = find_amounts("客户说预算一千万左右")
    assert (amount.text, amount.value) == ("预算一千万", 10_000_000)


def test_a_cue_with_filler_words_is_kept_in_the_text() -> None:
    [amount] = find_amounts("预算大概一千万")
    assert amount.text == "预算大概一千万"


def test_a_range_counts_once_as_its_lower_bound_with_the_shared_unit() -> None:
    [amount] = find_amounts("预算30-50万")
    assert amount.value == 300_000


def test_a_range_with_units_on_both_sides_counts_its_lower_bound() -> None:
    [amount] = find_amounts("预估金额在80万到100万之间")
    assert amount.value == 800_000


def test_several_amounts_come_in_order_of_appearance() -> None:
    found = find_amounts("软件license 1.5亿，实施服务3千万，维保每年200w。")
    assert [a.value for a in found] == [150_000_000, 30_000_000, 2_000_000]


@pytest.mark.parametrize(
    "text",
    [
        "降价10%",
        "联网率95%",
        "3万人在用",
        "用户数10万",
        "采购50万台",
        "千万别忘了",
        "十万火急",
        "万一不行",
        "三千五",
        "2.5版本",
        "15号前",
        "3天后",
        "电话13800138000",
        "500万美元",
        "两个实施",
        "3块屏幕",
        "壹贰叁",
        "共计3个",
        "回款3笔",
        "打款3天后",
    ],
)
def test_numbers_that_are_not_money_are_not_amounts(text: str) -> None:
    assert find_amounts(fold(text)) == []


def test_a_word_after_a_unit_and_a_space_is_no_measure_of_it() -> None:
    assert [a.value for a in find_amounts(fold("收款 12万 天府银行"))] == [120_000]
    assert find_amounts(fold("12万天数")) == []  # glued, 天 still counts days


def test_offsets_point_into_the_text() -> None:
    text = "合同额1,200万，分三期"
    [amount] = find_amounts(text)
    assert text[amount.start : amount.end] == "合同额1,200万"


def test_wan_kuai_before_a_word_is_money() -> None:
    """「6万块今天进账了」: 块 after a unit is currency; only a bare 3块屏幕 counts screens."""
    assert [m.value for m in find_amounts(fold("华新物流的6万块今天进账了"))] == [60_000]
