"""Behavior pricing logic: leaderboard ranking, periods, and the quarterly review diff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rules.schema import BehaviorsFile, BehaviorVersion


@dataclass(frozen=True)
class Standing:
    rank: int
    rep: str
    total: int
    by_category: dict[str, int]


def rank(totals: dict[str, dict[str, int]], names: dict[str, str], *, top: int | None = None) -> list[Standing]:
    """Highest total first; equal totals share a rank (1, 2, 2, 4) and are listed by name."""
    ordered = sorted(totals.items(), key=lambda item: (-sum(item[1].values()), names.get(item[0], item[0])))
    standings: list[Standing] = []
    for position, (rep, categories) in enumerate(ordered, 1):
        total = sum(categories.values())
        shared = standings and standings[-1].total == total
        standings.append(Standing(standings[-1].rank if shared else position, rep, total, dict(categories)))
    return [s for s in standings if top is None or s.rank <= top]


TEXT = {
    "line": "{rank}. {name} {total} 分：{breakdown}",
    "empty": "这个周期还没有人记录行为。",
    "mine": "您：第 {rank} 名 · {total} 分（{breakdown}）",
    "mine_none": "您本期还没有记录行为，发送「行为 <客户> <行为名>」开始积分。",
}
TOP = 10


def breakdown(categories: dict[str, int]) -> str:
    return " · ".join(f"{name}{points}" for name, points in sorted(categories.items(), key=lambda kv: (-kv[1], kv[0])))


def board_lines(standings: list[Standing], names: dict[str, str]) -> list[str]:
    """The public TOP10 lines (the only view anyone has of another rep's breakdown)."""
    lines = [TEXT["line"].format(rank=s.rank, name=names.get(s.rep, s.rep), total=s.total,
                                 breakdown=breakdown(s.by_category)) for s in standings if s.rank <= TOP]
    return lines or [TEXT["empty"]]


def own_line(standings: list[Standing], rep: str) -> str:
    """A rep's own rank and breakdown, for their eyes only."""
    mine = next((s for s in standings if s.rep == rep), None)
    if mine is None:
        return TEXT["mine_none"]
    return TEXT["mine"].format(rank=mine.rank, total=mine.total, breakdown=breakdown(mine.by_category))


def period(kind: str, today: date, tz: ZoneInfo) -> tuple[datetime, datetime, str]:
    """This week (Mon–Sun) or month as [start, end) instants and a label like 2026-W49 / 2026-12."""
    if kind == "week":
        start = today - timedelta(days=today.weekday())
        end = start + timedelta(days=7)
        label = f"{start.isocalendar().year}-W{start.isocalendar().week:02d}"
    else:
        start = today.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        label = start.strftime("%Y-%m")
    return datetime.combine(start, time.min, tz), datetime.combine(end, time.min, tz), label


def diff(rules: BehaviorsFile, old: str, new: str) -> list[str]:
    """The quarterly review as lines a manager can read: added, removed and re-priced behaviors."""
    versions = {v.quarter: v for v in rules.versions}
    if old not in versions or new not in versions:
        missing = old if old not in versions else new
        raise KeyError(f"没有季度 {missing}（可用：{'、'.join(versions)}）")
    return diff_versions(versions[old], versions[new])


def diff_versions(old: BehaviorVersion, new: BehaviorVersion) -> list[str]:
    """Added, removed and re-priced behaviors between two value maps (two quarters, or one quarter edited)."""
    before = {b.code: b for b in old.behaviors}
    after = {b.code: b for b in new.behaviors}
    lines = [f"+ 新增 {b.name}（{b.category}，{b.points} 分）" for code, b in after.items() if code not in before]
    lines += [f"- 删除 {b.name}（{b.category}，{b.points} 分）" for code, b in before.items() if code not in after]
    for code in before.keys() & after.keys():
        b, a = before[code], after[code]
        if (b.points, b.category, b.name) != (a.points, a.category, a.name):
            lines.append(f"~ 调整 {b.name}：{b.category} {b.points} 分 → {a.name}：{a.category} {a.points} 分")
    return sorted(lines, key=lambda line: ("+-~".index(line[0]), line))
