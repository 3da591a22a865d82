"""Opportunity health 0–100 from touches, files, customer feedback and stage dwell, with its reasons."""

from __future__ import annotations

from dataclasses import dataclass, field

from rules.schema import HealthFile, Stage


@dataclass(frozen=True)
class Facts:
    """What the evidence says about one opportunity within the window."""

    valid_touches: int = 0
    files: int = 0
    negative: list[str] = field(default_factory=list)  # keyword per hit, repeats kept
    positive: list[str] = field(default_factory=list)
    days_since_valid_touch: int | None = None  # None: never touched
    idle_days: int = 0  # days since the last status update


@dataclass(frozen=True)
class Health:
    score: int
    components: dict[str, int]
    suggestions: list[str]


MAX_SUGGESTIONS = 3


def dwell_points(stage: Stage | None, idle_days: int, maximum: int) -> int:
    """Full marks before the yellow light, falling linearly to 0 at twice the escalation threshold."""
    if stage is None or not stage.yellow_days:
        return maximum
    zero_at = 2 * (stage.escalate_days or stage.yellow_days)
    if idle_days < stage.yellow_days:
        return maximum
    if idle_days >= zero_at:
        return 0
    return round(maximum * (zero_at - idle_days) / (zero_at - stage.yellow_days))


def next_dwell_change(stage: Stage | None, idle_days: int, maximum: int) -> int | None:
    """The idle-day count at which the dwell points next differ from today's; None when they never will."""
    if stage is None or not stage.yellow_days:
        return None
    now = dwell_points(stage, idle_days, maximum)
    zero_at = 2 * (stage.escalate_days or stage.yellow_days)
    return next((day for day in range(idle_days + 1, zero_at + 1) if dwell_points(stage, day, maximum) != now), None)


def score(facts: Facts, stage: Stage | None, rules: HealthFile) -> Health:
    c = rules.components
    feedback = c.feedback.base + c.feedback.per_negative * len(facts.negative) + c.feedback.per_positive * len(
        facts.positive)
    components = {
        "touches": min(c.touches.max, c.touches.per_item * facts.valid_touches),
        "files": min(c.files.max, c.files.per_item * facts.files),
        "feedback": max(0, min(c.feedback.max, feedback)),
        "dwell": dwell_points(stage, facts.idle_days, c.dwell.max),
    }
    return Health(score=sum(components.values()), components=components,
                  suggestions=suggestions(facts, components, rules))


def suggestions(facts: Facts, components: dict[str, int], rules: HealthFile) -> list[str]:
    """The rule file's suggestions whose condition holds, in file order, at most three."""
    chosen: list[str] = []
    for rule in rules.suggestions:
        if _holds(rule.when, facts, components, rules):
            chosen.append(rule.text)
        if len(chosen) == MAX_SUGGESTIONS:
            break
    return chosen


def _holds(when: str, facts: Facts, components: dict[str, int], rules: HealthFile) -> bool:
    kind, _, arg = when.partition(":")
    if kind == "feedback":
        return arg in facts.negative
    if kind == "no_touch_days":
        return facts.days_since_valid_touch is None or facts.days_since_valid_touch >= int(arg)
    if kind == "few_files":
        return facts.files == 0
    return components["dwell"] * 2 < rules.components.dwell.max
