"""What a rule change does before it is saved: which open opportunities change light, how the leaderboard reorders."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from rules.behaviors import Standing, rank
from rules.lights import Light, light
from rules.schema import BehaviorsFile, StagesFile


def light_moves(old: StagesFile, new: StagesFile, open_deals: list[tuple[str, datetime]],
                at: datetime) -> Counter[tuple[Light, Light]]:
    """(light under the old rules, light under the new) → how many open opportunities move so, as of `at`."""
    moves: Counter[tuple[Light, Light]] = Counter()
    for stage, last_update in open_deals:
        before, after = light(old.stage(stage), last_update, at), light(new.stage(stage), last_update, at)
        if before != after:
            moves[(before, after)] += 1
    return moves


def repriced(rules: BehaviorsFile, counts: list[tuple[str, str, str, int, int]],
             names: dict[str, str]) -> list[Standing]:
    """The leaderboard if each logged behavior were worth what `rules` says for its quarter (a behavior the rules
    no longer price keeps the points it earned)."""
    prices = {(v.quarter, b.code): b for v in rules.versions for b in v.behaviors}
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for rep, quarter, code, times, earned in counts:
        behavior = prices.get((quarter, code))
        category = behavior.category if behavior else code
        totals[rep][category] += behavior.points * times if behavior else earned
    return rank({rep: dict(categories) for rep, categories in totals.items()}, names)


def rank_moves(before: list[Standing], after: list[Standing]) -> list[tuple[str, int, int]]:
    """(rep, old rank, new rank) for every rep whose rank changes, best new rank first."""
    old = {s.rep: s.rank for s in before}
    return [(s.rep, old.get(s.rep, 0), s.rank) for s in after if old.get(s.rep) != s.rank]
