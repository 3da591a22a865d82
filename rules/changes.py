"""What a rule change does before it is saved: which open opportunities change light, how the leaderboard reorders,
which industries gain or lose the words that name them."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from rules.behaviors import Standing, rank
from rules.lights import Light, light
from rules.schema import BehaviorsFile, Industry, LeadsFile, StagesFile


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


@dataclass(frozen=True)
class IndustryChange:
    """One industry that differs between two leads.yaml: None before (added) or after (removed), and the words
    that name it in a rep's message (name, aliases, keywords) it loses and gains."""

    name: str
    before: Industry | None
    after: Industry | None
    lost: list[str]
    gained: list[str]


def industry_changes(old: LeadsFile, new: LeadsFile) -> list[IndustryChange]:
    """Every industry added, removed or changed, in the order of the old file, then the new industries."""
    before = {i.name: i for i in old.industries}
    after = {i.name: i for i in new.industries}
    found = []
    for name in [*before, *(n for n in after if n not in before)]:
        was, now = before.get(name), after.get(name)
        if was != now:
            old_words, new_words = _words(was), _words(now)
            found.append(IndustryChange(name, was, now, [w for w in old_words if w not in new_words],
                                        [w for w in new_words if w not in old_words]))
    return found


def _words(industry: Industry | None) -> list[str]:
    return [industry.name, *industry.aliases, *industry.keywords] if industry else []
