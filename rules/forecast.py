"""Forecast judgements over plain data: signal verification, risk, similarity, accuracy, deviation causes."""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from rules.schema import ForecastFile, Similarity


class Risk(StrEnum):
    """The one risk vocabulary, stored in ForecastItem.risk and shown as-is in chat, export and dashboard.
    A forecast item without enough verified signals is HIGH; one with enough has no risk (None)."""

    HIGH = "高风险"


DECISION_ROLE = "决策人"

TEXT = {
    "unknown": "未知信号类型",
    "not_by": "该信号不能由{source}提出",
    "bad_evidence": "证据类型不符（需要：{wanted}）",
    "stale": "证据已过期（超过 {hours} 小时）",
    "rep": "销售",
    "system": "系统",
    "kinds": {"link": "链接", "file": "文件", "message": "消息", "system": "系统记录"},
    "lifter": "{name}（{kinds}）",
    "missing_signals": "信号缺失：「{customer}」确定签约但只有 {valid} 项有效信号",
    "misjudged": "阶段判断失误：「{customer}」提交时在「{stage}」，期末仍未进入「{last}」",
    "missed_event": "客户动态漏报：「{customer}」{day} {title}",
    "slipped": "滑单：「{customer}」原预计 {close} 签约，{why}",
    "lost": "已输单",
    "moved": "预计签约日已推迟到 {close}",
    "idle": "已 {days} 天无进展",
    "not_signed": "期内未签约",
    "unforecast": "未预测的成交：「{customer}」{amount} 元",
    "line": "· {customer} · {stage} · {amount} · 预计 {close}",
}

URL = re.compile(r"https?://\S+", re.I)
FILENAME = re.compile(r"\S+\.(?:pdf|docx?|xlsx?|pptx?|png|jpe?g|zip|rar|txt)\b", re.I)


# --- signals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A signal as asserted: by whom, with what kind of evidence, observed when."""

    type: str
    source: str  # rep | system
    evidence: str  # link | file | message | system
    observed_at: datetime


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: str | None = None


def verify(claim: Claim, rules: ForecastFile, at: datetime) -> Verdict:
    """Counts only a known type, asserted by someone allowed, with the right evidence, still fresh."""
    rule = rules.signal(claim.type)
    if rule is None:
        return Verdict(False, TEXT["unknown"])
    if claim.source not in rule.asserted_by:
        return Verdict(False, TEXT["not_by"].format(source=TEXT.get(claim.source, claim.source)))
    if claim.evidence not in rule.evidence:
        return Verdict(False, TEXT["bad_evidence"].format(wanted=_kinds(rule.evidence)))
    if at - claim.observed_at > timedelta(hours=rule.fresh_hours):
        return Verdict(False, TEXT["stale"].format(hours=rule.fresh_hours))
    return Verdict(True)


def risk(valid_types: Iterable[str], rules: ForecastFile) -> Risk | None:
    """HIGH when fewer distinct signal types than `min_signals` are verified."""
    return Risk.HIGH if len(set(valid_types)) < rules.min_signals else None


def lifters(valid_types: Iterable[str], rules: ForecastFile) -> list[str]:
    """The evidence a rep could still bring, as 「POC完成（文件/链接/消息）」."""
    have = set(valid_types)
    return [TEXT["lifter"].format(name=s.name, kinds=_kinds([k for k in s.evidence if k != "system"]))
            for s in rules.signals if "rep" in s.asserted_by and s.code not in have]


def _kinds(kinds: Iterable[str]) -> str:
    labels: dict[str, str] = TEXT["kinds"]  # type: ignore[assignment]
    return "/".join(labels[k] for k in kinds)


def evidence_of(text: str) -> tuple[str, str]:
    """Typed evidence → (kind, reference): a URL is a link, a file name a file, anything else a message."""
    text = text.strip()
    if found := URL.search(text):
        return "link", found.group(0)
    if found := FILENAME.search(text):
        return "file", found.group(0)
    return "message", text


# --- periods --------------------------------------------------------------------------------


def period_of(day: date, rules: ForecastFile) -> str:
    """The month a forecast submitted on `day` is for: from `next_period_from_day` on, next month's."""
    if day.day >= rules.next_period_from_day:
        day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return day.strftime("%Y-%m")


def period_bounds(period: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a `YYYY-MM` period in the business time zone."""
    first = date.fromisoformat(period + "-01")
    following = (first + timedelta(days=32)).replace(day=1)
    return datetime.combine(first, time.min, tz), datetime.combine(following, time.min, tz)


def previous_periods(period: str, n: int) -> list[str]:
    """The n periods before `period`, most recent first."""
    first = date.fromisoformat(period + "-01")
    out: list[str] = []
    for _ in range(n):
        first = (first - timedelta(days=1)).replace(day=1)
        out.append(first.strftime("%Y-%m"))
    return out


# --- similarity -----------------------------------------------------------------------------


def structure(chain: Sequence[dict[str, str]]) -> tuple[str, ...]:
    """A decision chain's structure: the sorted distinct roles in it (决策人, 设备科, 信息中心 …)."""
    return tuple(sorted({p.get("role") or DECISION_ROLE for p in chain}))


@dataclass(frozen=True)
class Deal:
    """A closed-won deal, or the open opportunity being compared."""

    industry: str | None
    band: str | None
    structure: tuple[str, ...]
    cycle_days: int = 0


def distance(a: Deal, b: Deal, bands: Sequence[str], weights: Similarity) -> float:
    """Weighted: industry differs (0/1), budget bands apart / number of bands, Jaccard distance of role sets."""
    industry = 0.0 if a.industry == b.industry else 1.0
    if a.band in bands and b.band in bands:
        band = abs(bands.index(a.band) - bands.index(b.band)) / max(1, len(bands) - 1)
    else:
        band = 0.0 if a.band == b.band else 1.0
    union = set(a.structure) | set(b.structure)
    chain = 1 - len(set(a.structure) & set(b.structure)) / len(union) if union else 0.0
    return weights.industry_weight * industry + weights.band_weight * band + weights.chain_weight * chain


@dataclass(frozen=True)
class Cycle:
    mean: int
    spread: int
    n: int
    exact: bool  # all cases share industry, band and structure


def cycle(target: Deal, history: Sequence[Deal], bands: Sequence[str], weights: Similarity) -> Cycle | None:
    """Signing cycle of the exact matches, or of the `min_cases` nearest when there are too few.

    Spread is the population standard deviation, so `mean ± spread` covers the typical case.
    """
    exact = [d for d in history if (d.industry, d.band, d.structure) == (target.industry, target.band,
                                                                          target.structure)]
    cases = exact
    if len(exact) < weights.min_cases:
        cases = sorted(history, key=lambda d: distance(target, d, bands, weights))[:weights.min_cases]
    if not cases:
        return None
    days = [d.cycle_days for d in cases]
    return Cycle(round(statistics.fmean(days)), round(statistics.pstdev(days)), len(days),
                 exact=len(exact) >= weights.min_cases)


def fits(found: Cycle, elapsed: int, to_close: int) -> bool:
    """The forecast's implied cycle (elapsed + days to the expected close) lies within mean ± spread."""
    return abs(elapsed + to_close - found.mean) <= max(found.spread, 3)


# --- accuracy and deviation -----------------------------------------------------------------


def accuracy(forecast: int, actual: int) -> float | None:
    """1 − |actual − forecast| / forecast, floored at 0; None when nothing was forecast."""
    if forecast <= 0:
        return None
    return max(0.0, 1 - abs(actual - forecast) / forecast)


def deviation(forecast: int, actual: int) -> float | None:
    return abs(actual - forecast) / forecast if forecast > 0 else None


def off(forecast: int, actual: int, rules: ForecastFile) -> bool:
    """A deviation strictly above the threshold (25% by default) calls for a root-cause report."""
    found = deviation(forecast, actual)
    return found is not None and found > rules.deviation


def rolling(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.fmean(kept) if kept else None


@dataclass(frozen=True)
class Figures:
    """One row of the forecast health board."""

    backed: float | None  # share of committed amount with ≥ min_signals valid signals
    fresh: float | None  # share of signals observed within fresh_hours
    accuracy_3: float | None
    accuracy_6: float | None


@dataclass(frozen=True)
class ItemFacts:
    amount: int
    valid_signals: int
    signal_times: tuple[datetime, ...]


def figures(items: Sequence[ItemFacts], history: dict[str, tuple[int, int]], period: str, at: datetime,
            rules: ForecastFile) -> Figures:
    """`history`: period → (forecast, actual) of closed periods; rolling means over the last 3 and 6."""
    total = sum(i.amount for i in items)
    backed = sum(i.amount for i in items if i.valid_signals >= rules.min_signals) / total if total else None
    times = [t for i in items for t in i.signal_times]
    window = timedelta(hours=rules.fresh_hours)
    fresh = sum(1 for t in times if at - t <= window) / len(times) if times else None

    def over(n: int) -> float | None:
        return rolling(accuracy(*history[p]) for p in previous_periods(period, n) if p in history)

    return Figures(backed, fresh, over(3), over(6))


# --- root cause -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of one committed forecast item by period close."""

    customer: str
    stage_at_submit: str
    reached_last_stage: bool
    won_in_period: bool
    lost: bool
    expected_close: date | None
    current_close: date | None
    idle_days: int
    valid_signals: int


@dataclass(frozen=True)
class CustomerNews:
    customer: str
    day: date
    title: str


def root_causes(outcomes: Sequence[Outcome], news: Sequence[CustomerNews], unforecast: Sequence[tuple[str, int]],
                rules: ForecastFile, *, period_end: date, idle_after: int = 7) -> dict[str, list[str]]:
    """The sections of a 《偏差根因报告》: missing signals, stage misjudgements, missed events, slipped deals."""
    last = rules.stages[-1]
    report: dict[str, list[str]] = {"signals": [], "stages": [], "events": [], "slipped": []}
    for o in outcomes:
        if o.valid_signals < rules.min_signals:
            report["signals"].append(TEXT["missing_signals"].format(customer=o.customer, valid=o.valid_signals))
        if o.won_in_period:
            continue
        if not o.reached_last_stage:
            report["stages"].append(TEXT["misjudged"].format(customer=o.customer, stage=o.stage_at_submit, last=last))
        if o.lost:
            why = TEXT["lost"]
        elif o.current_close and o.current_close >= period_end:
            why = TEXT["moved"].format(close=o.current_close.isoformat())
        elif o.idle_days >= idle_after:
            why = TEXT["idle"].format(days=o.idle_days)
        else:
            why = TEXT["not_signed"]
        close = o.expected_close.isoformat() if o.expected_close else "-"
        report["slipped"].append(TEXT["slipped"].format(customer=o.customer, close=close, why=why))
    report["events"] = [TEXT["missed_event"].format(customer=n.customer, day=n.day.strftime("%m-%d"), title=n.title)
                        for n in news]
    report["slipped"] += [TEXT["unforecast"].format(customer=c, amount=f"{a:,}") for c, a in unforecast]
    return report


def opportunity_line(customer: str, stage: str, amount: int | None, close: date | None) -> str:
    """One opportunity as listed on the prompt and the submission cards."""
    return TEXT["line"].format(customer=customer, stage=stage, amount=f"{amount:,} 元" if amount else "金额未填",
                               close=close.isoformat() if close else "未定")
