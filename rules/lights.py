"""Stage traffic lights: how long an opportunity has gone without an update, judged against its stage."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from rules.schema import Stage

Light = Literal["green", "yellow", "escalated"]


def light(stage: Stage | None, last_update: datetime, at: datetime) -> Light:
    """Green until `yellow_days` without an update, yellow until `escalate_days`, then escalated."""
    if stage is None:
        return "green"
    idle = at - last_update
    if stage.escalate_days and idle >= timedelta(days=stage.escalate_days):
        return "escalated"
    if stage.yellow_days and idle >= timedelta(days=stage.yellow_days):
        return "yellow"
    return "green"


def idle_days(last_update: datetime, at: datetime) -> int:
    return max(0, (at - last_update).days)


def cutoffs(stage: Stage, at: datetime) -> tuple[datetime | None, datetime | None]:
    """(yellow, escalate): an opportunity last updated at or before a cutoff has reached that light."""
    yellow = at - timedelta(days=stage.yellow_days) if stage.yellow_days else None
    escalate = at - timedelta(days=stage.escalate_days) if stage.escalate_days else None
    return yellow, escalate


def _thresholds(stage: Stage) -> list[int]:
    return sorted(days for days in (stage.yellow_days, stage.escalate_days) if days)


def first_change_days(stage: Stage) -> int | None:
    """Days without an update after which a green light first changes colour; None if it never does."""
    return next(iter(_thresholds(stage)), None)


def next_change(stage: Stage | None, last_update: datetime, at: datetime) -> datetime | None:
    """The first instant after `at` at which `light` changes colour without a new update; None if it never will."""
    if stage is None:
        return None
    upcoming = (last_update + timedelta(days=days) for days in _thresholds(stage))
    return next((instant for instant in upcoming if instant > at), None)
