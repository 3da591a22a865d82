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


def _hit(tag: ValueTag, body: Mapping[str, Any]) -> bool:
    items = body.get(tag.when) or []
    if tag.when == "contacts":
        return any(c.get("title") and c.get("change", True) for c in items)
    if tag.when == "todos":
        return any(is_valid_todo(t) for t in items)
    if tag.when == "keywords" and tag.keywords:
        wanted = {k.casefold() for k in tag.keywords}
        return any(str(k).casefold() in wanted for k in items)
    return bool(items)


def value(body: Mapping[str, Any], tags: Iterable[ValueTag]) -> tuple[int, list[str]]:
    """The report's score (sum of the earned tags' weights, capped) and the tags, in rule-file order.

    `body` holds lists under the trigger names: contacts ({name, title, change}: only news counts), competitors, keywords,
    todos ({text, due, customer}), stage_changes, feedback, amounts.
    """
    earned = [t for t in tags if _hit(t, body)]
    return min(MAX_SCORE, sum(t.weight for t in earned)), [t.name for t in earned]


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
