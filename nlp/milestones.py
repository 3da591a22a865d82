"""Payment plans typed in chat: '首付30% 12月15日，尾款70% 明年3月1日' → labelled milestones with dates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from nlp.amounts import find_amounts
from nlp.dates import find_dates
from nlp.segment import fold

_PARTS = re.compile(r"[，,；;。\n]+")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*[%％]|百分之([一二三四五六七八九十]+|\d+)")
_LABEL = re.compile(r"^[\s:：]*([\u4e00-\u9fff]{1,6}?款?)(?=\s*(?:\d|百分之|[一二三四五六七八九十]))")
_HAN = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}

DEFAULT_LABELS = ("首付款", "二期款", "三期款", "四期款", "五期款")


@dataclass(frozen=True)
class Milestone:
    label: str
    due_on: date
    amount: int | None  # yuan, when given as money
    percent: float | None  # share of the contract, when given as a percentage


def _han_percent(raw: str) -> float:
    if raw.isdigit():
        return float(raw)
    tens, _, ones = raw.partition("十")
    if "十" not in raw:
        return float(_HAN[raw])
    return float((_HAN.get(tens, 1) if tens else 1) * 10 + (_HAN.get(ones, 0) if ones else 0))


def parse_plan(text: str, today: date) -> list[Milestone]:
    """Each clause with a date and a share or an amount becomes one milestone, in the order written."""
    found: list[Milestone] = []
    for part in (p.strip() for p in _PARTS.split(fold(text))):
        dates = [d for d in find_dates(part, today) if d.kind == "date" and d.due]
        if not dates:
            continue
        percent_match = _PERCENT.search(part)
        percent = None
        if percent_match:
            percent = float(percent_match[1]) if percent_match[1] else _han_percent(percent_match[2])
        amounts = [] if percent is not None else find_amounts(part)
        if percent is None and not amounts:
            continue
        label_match = _LABEL.match(part)
        label = label_match[1] if label_match else DEFAULT_LABELS[min(len(found), len(DEFAULT_LABELS) - 1)]
        found.append(Milestone(label=label if label.endswith("款") else label + "款", due_on=dates[0].due,
                               amount=amounts[0].value if amounts else None, percent=percent))
    return found
