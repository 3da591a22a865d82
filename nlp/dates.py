"""Chinese (and a little English) time expressions → due dates for todos, future-biased.

Owned rules, not a library: what 15号, 周五前 or 月底 mean for a todo is a product decision
(docs/nlp.md has the table). Weeks run Monday–Sunday. An expression without a year or week
resolves to the next such date on or after `today`; times of day never change the date.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from nlp.segment import fold

# Han numerals used in dates; 两 and 〇 included, 百/千 never occur in a date.
_CN = "零〇一二两三四五六七八九十"
N = rf"(?:\d{{1,2}}|[{_CN}]{{1,3}})"
_WEEK = r"(?:周|星期|礼拜)"
_WD = r"[一二三四五六日天1-7]"
_TOD = (
    r"(?:\s*(?:(?:早上|上午|中午|下午|晚上|傍晚|凌晨|早|晚)\s*)?"
    rf"(?:{N}\s*(?:点|:|：)\s*(?:半|一刻|\d{{1,2}}\s*分?|[{_CN}]{{1,3}}分)?)|\s*(?:早上|上午|中午|下午|晚上|傍晚))?"
)
_BEFORE = r"之前|以前|前|为止|之内|以内|内(?![部容外在网测训核审控])"
_AFTER = r"之后|以后|后"
_SUFFIX = rf"(?P<suf>{_BEFORE}|{_AFTER})?"

RELATIVE_DAYS = {
    "大后天": 3, "明后天": 2, "后天": 2, "后日": 2, "明天": 1, "明日": 1, "明早": 1, "明晚": 1, "明儿": 1,
    "今天": 0, "今日": 0, "今晚": 0, "今早": 0, "今儿": 0,
    "昨天": -1, "昨日": -1, "昨晚": -1, "前天": -2,
}
WEEKDAYS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7, "末": 6}
# Lunar holidays by Gregorian date (春节 = 正月初一, 端午 = 五月初五, 中秋 = 八月十五); outside this
# table those holidays resolve to None rather than to a guess.
LUNAR = {
    "春节": {2024: (2, 10), 2025: (1, 29), 2026: (2, 17), 2027: (2, 6), 2028: (1, 26), 2029: (2, 13), 2030: (2, 3),
           2031: (1, 23), 2032: (2, 11), 2033: (1, 31), 2034: (2, 19), 2035: (2, 8), 2036: (1, 28)},
    "端午": {2024: (6, 10), 2025: (5, 31), 2026: (6, 19), 2027: (6, 9), 2028: (5, 28), 2029: (6, 16), 2030: (6, 5),
           2031: (6, 24), 2032: (6, 12), 2033: (6, 1), 2034: (6, 20), 2035: (6, 10), 2036: (5, 30)},
    "中秋": {2024: (9, 17), 2025: (10, 6), 2026: (9, 25), 2027: (9, 15), 2028: (10, 3), 2029: (9, 22), 2030: (9, 12),
           2031: (10, 1), 2032: (9, 19), 2033: (9, 8), 2034: (9, 27), 2035: (9, 16), 2036: (10, 4)},
}
# Surface word → holiday; 年前/年后 in business talk mean the Spring Festival, not 1 January.
HOLIDAY_NAMES = {
    "春节": "春节", "过年": "春节", "年": "春节", "过完年": "春节", "国庆节": "国庆", "国庆": "国庆", "十一": "国庆",
    "元旦": "元旦", "五一": "五一", "劳动节": "五一", "中秋节": "中秋", "中秋": "中秋", "端午节": "端午", "端午": "端午",
}
VAGUE = r"明年(?!\s*(?:底|末|内|初|中|\d|[一二两三四五六七八九十]+\s*月))|过几天|过段时间|过阵子|几天后|几天内|改天|回头|有空|尽快|抓紧|马上|近期|最近几天"
# A bare N号 is not a date when a noun follows: 3号楼, 5号线, 2号会议室 …
_HAO_NOUN = r"楼|线|店|厅|馆|门|位|库|机|院|床|窗|文件|仓|车|码|卡|包|柜|桌|台|会议室|选手|方案|种子|字|人"
_RI_NOUN = r"报|志|常|程|期|记|用|均|活|元|本|语|产|化|历|光|子|益"
ENGLISH_WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


@dataclass(frozen=True)
class DateMention:
    """One time expression. kind: "date" (due resolved, possibly None when out of range),
    "time" (a time of day alone: the sentence's date, else today), "vague" (尽快, 过几天: no date)."""

    start: int
    end: int
    text: str
    due: date | None
    kind: str = "date"


def small_int(s: str) -> int | None:
    """'15', '十五', '二十三', '两' → int; anything else → None."""
    if s.isdigit():
        return int(s)
    digits = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
    if "十" in s:
        head, _, tail = s.partition("十")
        if len(head) > 1 or len(tail) > 1 or "十" in tail:
            return None
        tens = digits.get(head, None) if head else 1
        ones = digits.get(tail, None) if tail else 0
        return None if tens is None or ones is None else tens * 10 + ones
    if len(s) == 1 and s in digits:
        return digits[s]
    return None


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _week_start(today: date, weeks: int = 0) -> date:
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks)


def _weekday_in(today: date, weekday: int, weeks: int) -> date:
    return _week_start(today, weeks) + timedelta(days=weekday - 1)


def _next_weekday(today: date, weekday: int) -> date:
    """This week's `weekday` if not past yet, else next week's (周五前 on a Saturday → next Friday)."""
    return _weekday_in(today, weekday, 0 if weekday >= today.isoweekday() else 1)


def _next_day_of_month(today: date, day: int) -> date:
    if day >= today.day and day <= calendar.monthrange(today.year, today.month)[1]:
        return date(today.year, today.month, day)
    nxt = _add_months(today.replace(day=1), 1)
    return _clamped(nxt.year, nxt.month, day)


def _next_month_day(today: date, month: int, day: int) -> date | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    candidate = _clamped(today.year, month, day)
    return candidate if candidate >= today else _clamped(today.year + 1, month, day)


def _add_business_days(today: date, days: int) -> date:
    d = today
    while days > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            days -= 1
    return d


def _holiday(today: date, name: str, before: bool, after: bool) -> date | None:
    """Next date ≥ today for 'before/after/at holiday'. 前 = the day before the break starts,
    后 = the first day after the break (春节: 除夕…初六; 国庆: 1–7 Oct; 五一: 1–5 May)."""
    for year in (today.year - 1, today.year, today.year + 1):
        if name in LUNAR:
            md = LUNAR[name].get(year)
            if md is None:
                continue
            day = date(year, *md)
            first, last = (day - timedelta(days=1), day + timedelta(days=6)) if name == "春节" else (day, day)
        else:
            first, last = {
                "国庆": (date(year, 10, 1), date(year, 10, 7)),
                "元旦": (date(year, 1, 1), date(year, 1, 1)),
                "五一": (date(year, 5, 1), date(year, 5, 5)),
            }[name]
        due = first - timedelta(days=1) if before else last + timedelta(days=1) if after else first
        if due >= today:
            return due
    return None


def _quarter_end(year: int, quarter: int) -> date:
    return _month_end(year, quarter * 3)


# Each rule: a regex (named groups) and a resolver (match, today) → date | None.
Resolver = Callable[[re.Match[str], date], "date | None"]
_RULES: list[tuple[re.Pattern[str], Resolver, str]] = []


def _rule(pattern: str, kind: str = "date") -> Callable[[Resolver], Resolver]:
    def register(fn: Resolver) -> Resolver:
        _RULES.append((re.compile(pattern), fn, kind))
        return fn

    return register


def _shift(m: re.Match[str], d: date | None) -> date | None:
    """X以后 means from the day after X; X前/X内 is a deadline on X itself."""
    suffix = m.groupdict().get("suf")
    if d is not None and suffix and re.fullmatch(_AFTER, suffix):
        return d + timedelta(days=1)
    return d


@_rule(rf"(?P<y>\d{{4}})\s*[-/.年]\s*(?P<m>\d{{1,2}})\s*[-/.月]\s*(?P<d>\d{{1,2}})\s*[日号]?{_TOD}{_SUFFIX}")
def _iso(m: re.Match[str], today: date) -> date | None:
    try:
        return _shift(m, date(int(m["y"]), int(m["m"]), int(m["d"])))
    except ValueError:
        return None


@_rule(rf"(?P<yr>今年|明年)?(?P<m>{N})\s*月\s*(?P<d>{N})\s*(?:[日号]|(?=之前|以前|前|以后|之后|[，,。;；\s]|$)){_TOD}{_SUFFIX}")
def _month_day(m: re.Match[str], today: date) -> date | None:
    month, day = small_int(m["m"]), small_int(m["d"])
    if month is None or day is None or not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if m["yr"] == "明年":
        return _shift(m, _clamped(today.year + 1, month, day))
    if m["yr"] == "今年":
        return _shift(m, _clamped(today.year, month, day))
    return _shift(m, _next_month_day(today, month, day))


@_rule(rf"(?<![\d/])(?P<m>\d{{1,2}})/(?P<d>\d{{1,2}})(?![\d/%]){_SUFFIX}")
def _slash(m: re.Match[str], today: date) -> date | None:
    return _shift(m, _next_month_day(today, int(m["m"]), int(m["d"])))


@_rule(rf"(?P<which>本|这个?|下下个?|下个?)月\s*(?P<d>{N})\s*[号日]{_TOD}{_SUFFIX}")
def _month_rel_day(m: re.Match[str], today: date) -> date | None:
    day = small_int(m["d"])
    if day is None or not 1 <= day <= 31:
        return None
    months = 2 if m["which"].startswith("下下") else 1 if m["which"].startswith("下") else 0
    first = _add_months(today.replace(day=1), months)
    return _shift(m, _clamped(first.year, first.month, day))


@_rule(rf"(?<![\d月{_CN}周期拜])(?P<d>{N})\s*(?:号(?!{_HAO_NOUN})|日(?!{_RI_NOUN})){_TOD}{_SUFFIX}")
def _day_of_month(m: re.Match[str], today: date) -> date | None:
    day = small_int(m["d"])
    if day is None or not 1 <= day <= 31:
        return None
    return _shift(m, _next_day_of_month(today, day))


@_rule(rf"(?P<rel>{'|'.join(sorted(RELATIVE_DAYS, key=len, reverse=True))}){_TOD}{_SUFFIX}")
def _relative_day(m: re.Match[str], today: date) -> date | None:
    return _shift(m, today + timedelta(days=RELATIVE_DAYS[m["rel"]]))


@_rule(rf"(?:(?P<which>这个?|本|下下个?|下个?|上个?)\s*|(?<![\d{_CN}几])){_WEEK}\s*(?P<wd>{_WD}|末){_TOD}{_SUFFIX}")
def _weekday(m: re.Match[str], today: date) -> date | None:
    raw = m["wd"]
    weekday = int(raw) if raw.isdigit() else WEEKDAYS[raw]
    which = m["which"] or ""
    suffix = m["suf"] or ""
    if raw == "末" and suffix and re.fullmatch(_BEFORE, suffix):
        weekday = 5  # 周末前: by the end of the working week
    if which.startswith("下下"):
        d = _weekday_in(today, weekday, 2)
    elif which.startswith("下"):
        d = _weekday_in(today, weekday, 1)
    elif which.startswith("上"):
        d = _weekday_in(today, weekday, -1)
    elif which:
        d = _weekday_in(today, weekday, 0)
    else:
        d = today if raw == "末" and weekday == 6 and today.isoweekday() == 7 else _next_weekday(today, weekday)
    return _shift(m, d)


@_rule(rf"(?P<which>这个?|本|下下个?|下个?|上个?)\s*{_WEEK}(?!\s*{_WD}|末)(?P<suf>之内|以内|内(?![部容外在网测训核审控])|之后|以后|后)?")
def _week(m: re.Match[str], today: date) -> date | None:
    which, suffix = m["which"], m["suf"] or ""
    if which.startswith("上"):
        return _week_start(today, -1)
    if which.startswith("下"):
        weeks = 2 if which.startswith("下下") else 1
        if suffix.endswith("内"):
            return _weekday_in(today, 5, weeks)  # 下周内: by next week's Friday
        if suffix:
            return _week_start(today, weeks + 1)
        return _week_start(today, weeks)  # 下周: next Monday, when the week starts
    if suffix.endswith("内"):
        return max(_weekday_in(today, 5, 0), today)  # 本周内: this Friday, or today at the weekend
    return _week_start(today, 1) if suffix else None  # bare 本周 tells what the week held, not a due date


@_rule(r"(?:(?P<which>本|这个?|下下个?|下个?|上个?)|(?<![个一二两三四五六七八九十\d岁]))月\s*(?P<part>初|底|末|中旬|上旬|下旬|中|内)(?P<suf>之前|以前|前|之后|以后|后)?")
def _month_part(m: re.Match[str], today: date) -> date | None:
    which, part = m["which"] or "", m["part"]
    if which.startswith("上"):
        first = _add_months(today.replace(day=1), -1)
    elif which.startswith("下"):
        first = _add_months(today.replace(day=1), 2 if which.startswith("下下") else 1)
    else:
        first = today.replace(day=1)
    if part in ("底", "末", "内"):
        d = _month_end(first.year, first.month)
    elif part in ("初", "上旬"):
        d = first if which or today.day == 1 else _add_months(first, 1)
    else:
        day = 21 if part == "下旬" else 15
        d = first.replace(day=day)
        if not which and d < today:
            d = _add_months(d, 1)
    return _shift(m, d)


@_rule(rf"(?P<m>{N})\s*月(?:份)?\s*(?P<part>初|底|末|中旬|上旬|下旬|中)(?P<suf>之前|以前|前|之后|以后|后)?")
def _named_month_part(m: re.Match[str], today: date) -> date | None:
    month = small_int(m["m"])
    if month is None or not 1 <= month <= 12:
        return None
    part = m["part"]
    day = {"初": 1, "上旬": 1, "中": 15, "中旬": 15, "下旬": 21}.get(part)
    year = today.year if _month_end(today.year, month) >= today else today.year + 1
    d = _month_end(year, month) if day is None else date(year, month, day)
    return _shift(m, d)


@_rule(r"(?P<which>本|这个?|下个?)月(?!\s*(?:初|底|末|中|上旬|下旬|内|\d|[一二两三四五六七八九十]+\s*[号日]))")
def _month(m: re.Match[str], today: date) -> date | None:
    if m["which"].startswith("下"):
        return _add_months(today.replace(day=1), 1)  # 下个月: the 1st, when it starts
    return _month_end(today.year, today.month)


@_rule(r"(?P<which>今年|明年|(?<![\d一二两三四五六七八九十几多半去前每])年)\s*(?P<part>底|末|内|初|中)(?P<suf>之前|以前|前)?")
def _year_part(m: re.Match[str], today: date) -> date | None:
    year = today.year + 1 if m["which"] == "明年" else today.year
    part = m["part"]
    if part in ("底", "末", "内"):
        return date(year, 12, 31)
    if part == "中":
        d = date(year, 6, 30)
        return d if d >= today or m["which"] == "明年" else date(year + 1, 6, 30)
    if m["which"] == "明年" or today == date(year, 1, 1):
        return date(year, 1, 1)
    return date(year + 1, 1, 1)


@_rule(r"(?P<which>本|这个?|下个?)季度(?P<part>末|底|初)?|(?<![一二三四\d前后本这个])季度?(?P<bpart>末|底|初)|(?<![前后])(?P<q>[一二三四1-4])\s*季度\s*(?P<qpart>末|底|初)?|(?<![a-z])q(?P<qq>[1-4])(?![\d])")
def _quarter(m: re.Match[str], today: date) -> date | None:
    """Bare or numbered quarters are deadlines (their last day); 下季度 starts on its first day."""
    current = (today.month - 1) // 3 + 1
    number = m["q"] or m["qq"]
    if number:
        quarter = int(number) if number.isdigit() else WEEKDAYS[number]
        if m["qpart"] == "初":
            d = date(today.year, quarter * 3 - 2, 1)
            return d if d >= today else date(today.year + 1, quarter * 3 - 2, 1)
        end = _quarter_end(today.year, quarter)
        return end if end >= today else _quarter_end(today.year + 1, quarter)
    year, quarter = today.year, current
    nxt = (m["which"] or "").startswith("下")
    if nxt:
        year, quarter = (year + 1, 1) if current == 4 else (year, current + 1)
    part = m["part"] or m["bpart"]
    if part == "初" or (nxt and part is None):
        return date(year, quarter * 3 - 2, 1)
    return _quarter_end(year, quarter)


@_rule(r"(?P<n>\d{1,3}|[一二两三四五六七八九十半]{1,3})\s*个?\s*(?P<unit>工作日|天|日|周|星期|礼拜|月)\s*(?P<suf>之后|以后|后|之内|以内|内)")
def _offset(m: re.Match[str], today: date) -> date | None:
    raw = m["n"]
    unit = m["unit"]
    if raw == "半":
        return today + timedelta(days=15) if unit == "月" else None
    n = small_int(raw) if not raw.isdigit() else int(raw)
    if n is None or n > 366:
        return None
    if unit == "工作日":
        return _add_business_days(today, n)
    if unit in ("天", "日"):
        return today + timedelta(days=n)
    if unit == "月":
        return _add_months(today, n)
    return today + timedelta(weeks=n)


@_rule(r"过\s*(?P<n>\d{1,2}|[一二两三四五六七八九十]{1,2})\s*(?P<unit>天|周|个?星期|个?礼拜)")
def _pass_days(m: re.Match[str], today: date) -> date | None:
    n = small_int(m["n"])
    if n is None:
        return None
    return today + (timedelta(days=n) if m["unit"] == "天" else timedelta(weeks=n))


@_rule(r"(?P<h>春节|过年|国庆节?|(?<![\d一二两三四五六七八九十])十一(?=前|之前|以前|后|之后|以后|期间)|元旦|五一|劳动节|中秋节?|端午节?)(?P<suf>之前|以前|前|之后|以后|后|期间)?|(?<![\d一二两三四五六七八九十几多半今去明前每百千万])(?P<y>年)(?P<ysuf>前|后|之前|之后|以后|以前)|(?P<done>过完年)")
def _holiday_rule(m: re.Match[str], today: date) -> date | None:
    if m["done"]:
        return _holiday(today, "春节", False, True)
    name = HOLIDAY_NAMES[m["h"] or m["y"]]
    suffix = m["suf"] or m["ysuf"] or ""
    before = bool(suffix) and bool(re.fullmatch(_BEFORE, suffix))
    after = bool(suffix) and bool(re.fullmatch(_AFTER, suffix))
    return _holiday(today, name, before, after)


@_rule(r"\b(?P<w>today|tonight|eod|tomorrow|tmrw?)\b")
def _english_day(m: re.Match[str], today: date) -> date | None:
    return today + timedelta(days=1) if m["w"].startswith("tom") or m["w"].startswith("tmr") else today


@_rule(r"\b(?P<next>next\s+|this\s+|by\s+|on\s+)?(?P<wd>mon|tue|wed|thu|fri|sat|sun)[a-z]*day\b|\bnext\s+week\b|\bend\s+of\s+(?:the\s+)?month\b|\beom\b|\bnext\s+month\b")
def _english_week(m: re.Match[str], today: date) -> date | None:
    text = m.group(0)
    if "week" in text:
        return _week_start(today, 1)
    if "next month" in text:
        return _add_months(today.replace(day=1), 1)
    if "month" in text or text == "eom":
        return _month_end(today.year, today.month)
    weekday = ENGLISH_WEEKDAYS[m["wd"]]
    if (m["next"] or "").startswith("next"):
        return _weekday_in(today, weekday, 1)
    return _next_weekday(today, weekday)


@_rule(rf"(?:(?:早上|上午|中午|下午|晚上|傍晚|凌晨)\s*{N}|(?<![\d:.])\d{{1,2}})\s*(?:点|:|：)\s*(?:半|一刻|\d{{1,2}}\s*分?|[{_CN}]{{1,3}}分)?(?!\d)(?P<suf>之前|以前|前)?|(?:早上|上午|中午|下午|晚上|傍晚)", kind="time")
def _time_only(m: re.Match[str], today: date) -> date | None:
    return today


@_rule(VAGUE, kind="vague")
def _vague(m: re.Match[str], today: date) -> date | None:
    return None


def find_dates(text: str, today: date) -> list[DateMention]:
    """All time expressions in `text` (already folded), leftmost-longest, in order of appearance."""
    found: list[DateMention] = []
    for pattern, resolve_fn, kind in _RULES:
        for m in pattern.finditer(text):
            if m.end() == m.start():
                continue
            try:
                due = resolve_fn(m, today)
            except (ValueError, OverflowError):  # 9999-12-31以后, or a today at the end of the calendar
                due = None
            found.append(DateMention(m.start(), m.end(), m.group(0).rstrip(), due, kind))
    found.sort(key=lambda d: (d.start, -(d.end - d.start)))
    chosen: list[DateMention] = []
    for mention in found:
        if chosen and mention.start < chosen[-1].end:
            continue
        chosen.append(mention)
    return [DateMention(d.start, d.start + len(d.text), d.text, d.due, d.kind) for d in chosen]


def resolve(expression: str, today: date) -> date | None:
    """The due date of the first time expression in `expression`; None when there is none."""
    for mention in find_dates(fold(expression), today):
        if mention.kind == "date":
            return mention.due
        if mention.kind == "time":
            return today
        return None
    return None
