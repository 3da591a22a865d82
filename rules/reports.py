"""Report value (tags and score from value_tags) and the replacement metric: do valid todos move customers?"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from rules.schema import ValueTag

MAX_SCORE = 100


def is_valid_todo(todo: Mapping[str, Any]) -> bool:
    """A todo a manager can check on: it says what, for which customer, and by when."""
    return bool(str(todo.get("text") or "").strip() and todo.get("customer") and todo.get("due"))


def _count(tag: ValueTag, body: Mapping[str, Any]) -> int:
    """How many items of the report trigger the tag (only news for contacts, only valid todos, only listed keywords)."""
    items = body.get(tag.when) or []
    if tag.when == "contacts":
        return sum(1 for c in items if c.get("title") and c.get("change", True))
    if tag.when == "todos":
        return sum(1 for t in items if is_valid_todo(t))
    if tag.when == "keywords" and tag.keywords:
        wanted = {k.casefold() for k in tag.keywords}
        return len({str(k).casefold() for k in items} & wanted)
    return len(items)


def value(body: Mapping[str, Any], tags: Iterable[ValueTag]) -> tuple[int, list[str]]:
    """The report's score and its earned tags, in rule-file order.

    A tag earns its weight in full from `full` items on and a share below (2 of 3 valid todos: ⅔ of the weight), so an
    ordinary day lands in the middle of the range and only a day with real news reaches the top (reports.yaml says
    what 30, 60 and 90 mean). The sum is capped at 100.
    `body` holds lists under the trigger names: contacts ({name, title, change}: only news counts), competitors, keywords,
    todos ({text, due, customer}), stage_changes, feedback, amounts.
    """
    score, earned = 0.0, []
    for tag in tags:
        count = _count(tag, body)
        if count:
            score += tag.weight * min(count, tag.full) / tag.full
            earned.append(tag.name)
    return min(MAX_SCORE, round(score)), earned


@dataclass(frozen=True)
class Outcome:
    """One report as the metric sees it: whether it had valid todos and whether a customer of it advanced."""

    rep: str
    team: str | None
    has_valid_todos: bool
    advanced: bool


def advanced_within(day: date, stage_days: Iterable[date], days: int) -> bool:
    """A stage change on one of the report's customers in the `days` days after the report's day."""
    return any(day < moved <= day + timedelta(days=days) for moved in stage_days)


@dataclass(frozen=True)
class Share:
    reports: int = 0
    advanced: int = 0

    @property
    def rate(self) -> float | None:
        return round(self.advanced / self.reports, 3) if self.reports else None


@dataclass(frozen=True)
class Progress:
    """With valid todos vs without; `lift` is how many times likelier the first group advanced."""

    with_todos: Share
    without_todos: Share

    @property
    def lift(self) -> float | None:
        a, b = self.with_todos.rate, self.without_todos.rate
        return round(a / b, 2) if a is not None and b else None

    def to_dict(self) -> dict[str, Any]:
        return {"with_todos": {"reports": self.with_todos.reports, "advanced": self.with_todos.advanced,
                               "rate": self.with_todos.rate},
                "without_todos": {"reports": self.without_todos.reports, "advanced": self.without_todos.advanced,
                                  "rate": self.without_todos.rate},
                "lift": self.lift}


def progress(outcomes: Iterable[Outcome]) -> Progress:
    counts = {True: [0, 0], False: [0, 0]}
    for o in outcomes:
        counts[o.has_valid_todos][0] += 1
        counts[o.has_valid_todos][1] += int(o.advanced)
    return Progress(Share(*counts[True]), Share(*counts[False]))


def progress_by(outcomes: Iterable[Outcome], key: Callable[[Outcome], str | None]) -> dict[str, Progress]:
    """The metric per rep (key=lambda o: o.rep) or per team; outcomes whose key is None are left out."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        name = key(o)
        if name is not None:
            groups[name].append(o)
    return {name: progress(items) for name, items in groups.items()}
