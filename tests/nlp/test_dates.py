from datetime import date

import pytest

from nlp.dates import find_dates, resolve

MON = date(2026, 11, 30)  # Monday; this week is 11-30 … 12-06
THU = date(2026, 12, 3)
SAT = date(2026, 9, 26)
SUN = date(2026, 12, 20)
DEC28 = date(2026, 12, 28)  # Monday of the week that crosses into 2027
JAN20 = date(2027, 1, 20)  # Spring Festival 2027 is 02-06
MAR31 = date(2026, 3, 31)
FEB = date(2028, 2, 10)  # leap year

# expression, today, expected due (None: no date for a todo)
TABLE = [
    ("明天下午3点", MON, date(2026, 12, 1)),
    ("明天", DEC28, date(2026, 12, 29)),
    ("后天", MON, date(2026, 12, 2)),
    ("大后天", MON, date(2026, 12, 3)),
    ("明后天", THU, date(2026, 12, 5)),
    ("今天下午", MON, MON),
    ("下周三", MON, date(2026, 12, 9)),
    ("下周三", SUN, date(2026, 12, 23)),
    ("下周一", DEC28, date(2027, 1, 4)),
    ("下下周三", date(2026, 10, 16), date(2026, 10, 28)),
    ("周三", MON, date(2026, 12, 2)),
    ("周一", SAT, date(2026, 9, 28)),
    ("周一上午10点半", SUN, date(2026, 12, 21)),
    ("周五前", MON, date(2026, 12, 4)),
    ("周五前", date(2026, 12, 4), date(2026, 12, 4)),
    ("周五前", SAT, date(2026, 10, 2)),
    ("周五前", SUN, date(2026, 12, 25)),
    ("星期五之前", THU, date(2026, 12, 4)),
    ("礼拜天", THU, date(2026, 12, 6)),
    ("这周五", THU, date(2026, 12, 4)),
    ("本周三", THU, date(2026, 12, 2)),
    ("本周内", MON, date(2026, 12, 4)),
    ("这周内", DEC28, date(2027, 1, 1)),
    ("本周内", SAT, SAT),
    ("下周", MON, date(2026, 12, 7)),
    ("下周内", MON, date(2026, 12, 11)),
    ("周末", THU, date(2026, 12, 5)),
    ("周末", SUN, SUN),
    ("周末前", THU, date(2026, 12, 4)),
    ("下周末", THU, date(2026, 12, 12)),
    ("月底", MON, MON),
    ("月底前", THU, date(2026, 12, 31)),
    ("月底", FEB, date(2028, 2, 29)),
    ("本月内", MAR31, MAR31),
    ("下个月底", date(2026, 6, 24), date(2026, 7, 31)),
    ("下月底", date(2027, 1, 20), date(2027, 2, 28)),
    ("月初", THU, date(2027, 1, 1)),
    ("月初", date(2026, 12, 1), date(2026, 12, 1)),
    ("下个月初", date(2026, 6, 24), date(2026, 7, 1)),
    ("下个月", date(2026, 9, 26), date(2026, 10, 1)),
    ("月中", MAR31, date(2026, 4, 15)),
    ("月中", THU, date(2026, 12, 15)),
    ("下个月中旬", MON, date(2026, 12, 15)),
    ("下旬", THU, None),
    ("15号", date(2026, 12, 10), date(2026, 12, 15)),
    ("15号", date(2026, 12, 15), date(2026, 12, 15)),
    ("15号", SUN, date(2027, 1, 15)),
    ("15号之前", SUN, date(2027, 1, 15)),
    ("31号", date(2027, 2, 1), date(2027, 3, 31)),
    ("三十号", date(2027, 1, 31), date(2027, 2, 28)),
    ("十五号", THU, date(2026, 12, 15)),
    ("下个月5号", DEC28, date(2027, 1, 5)),
    ("下个月10号前", MAR31, date(2026, 4, 10)),
    ("12月10号", MON, date(2026, 12, 10)),
    ("1月15号前", DEC28, date(2027, 1, 15)),
    ("7月15日前", date(2026, 6, 24), date(2026, 7, 15)),
    ("3月1日", THU, date(2027, 3, 1)),
    ("2027-01-08", DEC28, date(2027, 1, 8)),
    ("12/24", THU, date(2026, 12, 24)),
    ("1月底", SUN, date(2027, 1, 31)),
    ("4月中旬", MAR31, date(2026, 4, 15)),
    ("3天后", MON, date(2026, 12, 3)),
    ("三天后", DEC28, date(2026, 12, 31)),
    ("两周后", MON, date(2026, 12, 14)),
    ("一周内", MON, date(2026, 12, 7)),
    ("半个月内", MON, date(2026, 12, 15)),
    ("一个月后", date(2027, 1, 31), date(2027, 2, 28)),
    ("2个工作日内", SUN, date(2026, 12, 22)),
    ("3个工作日内", THU, date(2026, 12, 8)),
    ("过两天", THU, date(2026, 12, 5)),
    ("年底", MON, date(2026, 12, 31)),
    ("年底前", DEC28, date(2026, 12, 31)),
    ("明年初", THU, date(2027, 1, 1)),
    ("二季度末", MAR31, date(2026, 6, 30)),
    ("季度末", THU, date(2026, 12, 31)),
    ("下季度", THU, date(2027, 1, 1)),
    ("春节前", JAN20, date(2027, 2, 4)),
    ("年前", JAN20, date(2027, 2, 4)),
    ("年后", JAN20, date(2027, 2, 13)),
    ("过完年", JAN20, date(2027, 2, 13)),
    ("春节前", date(2027, 3, 1), date(2028, 1, 24)),
    ("国庆前", SAT, date(2026, 9, 30)),
    ("国庆后", SAT, date(2026, 10, 8)),
    ("国庆节后", date(2026, 10, 3), date(2026, 10, 8)),
    ("元旦后", DEC28, date(2027, 1, 2)),
    ("五一前", MAR31, date(2026, 4, 30)),
    ("中秋前", date(2026, 9, 10), date(2026, 9, 24)),
    ("中秋前", SAT, date(2027, 9, 14)),
    ("春节前", date(2040, 1, 1), None),
    ("15号以后", date(2026, 12, 10), date(2026, 12, 16)),
    ("过几天", THU, None),
    ("回头", THU, None),
    ("尽快", THU, None),
    ("下午3点", THU, THU),
    ("tomorrow", THU, date(2026, 12, 4)),
    ("next week", date(2026, 6, 24), date(2026, 6, 29)),
    ("by Friday", SAT, date(2026, 10, 2)),
]


@pytest.mark.parametrize(("expression", "today", "expected"), TABLE, ids=[f"{e}@{t}" for e, t, _ in TABLE])
def test_labelled_expression_resolves_to_the_expected_due(expression: str, today: date, expected: date | None) -> None:
    assert resolve(expression, today) == expected


def test_15hao_after_the_15th_means_next_month() -> None:
    assert resolve("15号", date(2026, 11, 20)) == date(2026, 12, 15)


def test_15hao_in_december_after_the_15th_rolls_into_next_year() -> None:
    assert resolve("15号", date(2026, 12, 20)) == date(2027, 1, 15)


def test_zhouwu_qian_on_a_weekend_means_next_fridays() -> None:
    assert resolve("周五前", date(2026, 12, 5)) == date(2026, 12, 11)


def test_a_bare_weekday_already_past_this_week_means_next_week() -> None:
    assert resolve("周二", date(2026, 12, 3)) == date(2026, 12, 8)


def test_yuedi_means_the_last_day_of_this_month() -> None:
    assert resolve("月底", date(2026, 11, 3)) == date(2026, 11, 30)


def test_month_day_already_past_this_year_means_next_year() -> None:
    assert resolve("3月5号", date(2026, 12, 3)) == date(2027, 3, 5)


def test_next_week_from_the_last_days_of_december_lands_in_january() -> None:
    assert resolve("下周三", date(2026, 12, 31)) == date(2027, 1, 6)


def test_past_expressions_resolve_to_past_dates() -> None:
    assert resolve("昨天", THU) == date(2026, 12, 2)
    assert resolve("上周五", THU) == date(2026, 11, 27)


@pytest.mark.parametrize(
    "text",
    ["3号楼会议室", "5号线", "价格高了一点", "一周一次", "两年前", "今年前三季度", "千万别忘了", "日报", "十一个人"],
)
def test_words_that_only_look_like_dates_are_not_due_dates(text: str) -> None:
    assert [m for m in find_dates(text, THU) if m.due is not None and m.kind == "date"] == []


def test_mentions_come_in_order_with_offsets_into_the_text() -> None:
    text = "明天下午3点去华东医疗，周五前提交报价"
    mentions = find_dates(text, MON)
    assert [(m.text, m.due) for m in mentions] == [("明天下午3点", date(2026, 12, 1)), ("周五前", date(2026, 12, 4))]
    assert all(text[m.start : m.end] == m.text for m in mentions)
