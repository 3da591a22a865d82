"""Money amounts in chat text → yuan, around cn2an (which alone misses 1.2个亿, 1,200万, 三十五点五万, 1.5w)."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import cn2an

from nlp.segment import fold

UNITS = {
    "个亿": 10**8, "亿": 10**8, "千万": 10**7, "百万": 10**6, "万": 10**4, "w": 10**4, "k": 10**3, "千": 10**3,
}
_AR = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
# A Han number must start with a digit word: 千万别…, 万一… are not amounts.
_CN = r"[一二两三四五六七八九十][零〇一二两三四五六七八九十百千万亿]*(?:点[零〇一二三四五六七八九]+)?"
_UNIT = r"个亿|亿|千万|百万|万|w(?![a-z])|k(?![a-z])|千"
_CURRENCY = r"元|块钱|块|人民币|rmb"
# Words that put an amount in context; the amount's text starts at them (预算一千万).
CUES = (
    "预算", "报价", "合同额", "合同金额", "合同", "项目金额", "金额", "总价", "单价", "回款", "尾款", "首付款", "首款",
    "付款", "定金", "订金", "投资", "标的", "费用", "成交价", "采购额", "订单", "中标价", "开票", "到账", "额度",
    "年费", "服务费", "培训费", "保证金", "budget", "共计", "合计", "总计", "打款", "收款", "转账",
)
# After these a bare number is money even without a unit (金额1,080,000; 共计120000; 到账 45000; 打款六千八).
_MONEY_CUES = frozenset({"金额", "合同金额", "项目金额", "共计", "合计", "总计", "到账", "打款", "收款", "转账", "回款"})
# Capital (financial) numerals as written on receipts and contracts (贰佰万元整); same length, so spans stay.
_CAPITALS = str.maketrans("壹贰叁肆伍陆柒捌玖拾佰仟", "一二三四五六七八九十百千")
_FILLER = r"(?:\s|是|为|约|大约|大概|差不多|在|有|达|:|：|~|不超过|控制在|左右){0,4}"
_NUMBER = rf"(?P<num>{_AR}|{_CN})\s*(?:来|多|余)?(?:个(?=[w万]))?(?P<unit>{_UNIT})?(?P<tail>(?<=[万w])\d(?![\d.,%月号日点天周个年]))?"
_RANGE_LOW = rf"(?:(?P<low>{_AR}|{_CN})\s*(?P<lowunit>{_UNIT})?\s*(?:-|~|～|到|至)\s*)?"
_PATTERN = re.compile(
    rf"(?:(?P<cue>{'|'.join(sorted(CUES, key=len, reverse=True))}){_FILLER})?"
    rf"(?<![\d.])(?<!\d,)(?<![a-z])(?P<sym>(?:[¥￥]|rmb)\s*)?{_RANGE_LOW}{_NUMBER}\s*(?P<cur>{_CURRENCY})?"
)
# What follows or precedes a number when it counts things rather than money.
_MEASURE_AFTER = re.compile(
    r"\s*(?:%|个(?!亿)|台|人|套|件|次|条|笔|户|字|平|吨|辆|张|份|家|名|位|支|瓶|盒|箱|片|步|米|度|床|间|所|行|页|篇|场|只|颗|"
    r"小时|分钟|秒|年|天|周|月|号|点(?![\d])|倍|岁|公里|像素|屏|分辨率|美元|美金|刀|欧元|港币|港元|日元|英镑|usd)"
)
_COUNT_BEFORE = re.compile(
    r"(?:用户|人数|员工|人员|学生|床位|粉丝|日活|月活|dau|mau|销量|产量|产能|面积|访问量|流量|点位|门店数|台数|终端|设备数|坐席|账号|并发|数据量)"
    r"\S{0,4}$"
)
_IDIOMS = ("十万火急", "万一", "千万别", "千万不要", "一万个")
# 一万亿: no deal is bigger; longer digit runs are ids or typos, and would overflow the store's integer columns.
MAX_YUAN = 10**12


@dataclass(frozen=True)
class AmountMention:
    start: int
    end: int
    text: str
    value: int  # yuan


_HAN_DIGITS = "一二三四五六七八九"
# 三四百万, 五六十万: two neighbouring digits say "three or four"; the lower one counts.
_APPROX = re.compile(rf"([{_HAN_DIGITS}])([{_HAN_DIGITS}])(?=[十百千万亿])")


def _number(raw: str) -> Decimal | None:
    approx = _APPROX.match(raw)
    if approx and _HAN_DIGITS.index(approx[2]) == _HAN_DIGITS.index(approx[1]) + 1:
        raw = approx[1] + raw[2:]
    if raw[0].isdigit():
        try:
            return Decimal(raw.replace(",", ""))
        except InvalidOperation:
            return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return Decimal(str(cn2an.cn2an(raw, "normal")))
        except (ValueError, KeyError, IndexError, TypeError):
            pass
        # cn2an refuses 三十五点五万: parse the number and apply the trailing unit ourselves.
        for unit in ("亿", "万"):
            if raw.endswith(unit) and len(raw) > 1:
                head = _number(raw[: -len(unit)])
                return None if head is None else head * UNITS[unit]
    return None


def parse_amount(text: str) -> int | None:
    """One amount typed on its own (a command argument): '一千万' → 10000000, '1.2个亿' →
    120000000, '12万5' → 125000, and a bare number '500000' → 500000; None otherwise."""
    folded = fold(text).strip()
    found = find_amounts(folded)
    if len(found) == 1:
        return found[0].value
    if not found and re.fullmatch(rf"{_AR}|{_CN}", folded):
        value = _number(folded)
        return int(value.to_integral_value()) if value is not None and 0 < value <= MAX_YUAN else None
    return None


def _value(number: str, unit: str | None, tail: str | None) -> Decimal | None:
    base = _number(number)
    if base is None:
        return None
    value = base * UNITS[unit] if unit else base
    if tail:
        value += int(tail) * 1000  # 12万5 = 12w5 = 125 000
    return value


def find_amounts(text: str) -> list[AmountMention]:
    """Money amounts in `text` (already folded), in order; a range counts once, as its lower bound."""
    found: list[AmountMention] = []
    text = text.translate(_CAPITALS)
    for m in _PATTERN.finditer(text):
        num, unit, cur = m["num"], m["unit"], m["cur"]
        han_magnitude = not num[0].isdigit() and ("万" in num or "亿" in num)
        if not (unit or cur or m["sym"] or han_magnitude or (m["lowunit"] and not unit) or m["cue"] in _MONEY_CUES):
            continue
        if any(text.startswith(idiom, m.start("low") if m["low"] else m.start("num")) for idiom in _IDIOMS):
            continue
        if cur == "块" and not unit and m.end() < len(text) and "\u4e00" <= text[m.end()] <= "\u9fff" and text[m.end()] != "钱":
            continue  # 3块屏幕: a measure word, not money
        # 12万 天府银行: after a unit and a space the next word is no measure of it
        spaced = bool(unit) and (text[m.end() - 1].isspace() or text[m.end() : m.end() + 1].isspace())
        if (not spaced and _MEASURE_AFTER.match(text, m.end())) or _COUNT_BEFORE.search(text, max(0, m.start() - 12), m.start("num")):
            continue
        unit_for_low = m["lowunit"] or unit
        if m["low"]:
            value = _value(m["low"], unit_for_low, None)
        else:
            value = _value(num, unit, m["tail"])
        if value is None or not 0 < value <= MAX_YUAN:
            continue
        start = m.start("cue") if m["cue"] else m.start("sym") if m["sym"] else m.start("low") if m["low"] else m.start("num")
        found.append(AmountMention(start, m.end(), text[start : m.end()].rstrip(), int(value.to_integral_value())))
    return found
