"""Named jobs that `liuhen jobs list/run` and the scheduler know about; modules add theirs here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from rules.loader import RuleSet

Sweep = Callable[[Session, datetime, RuleSet], int]


@dataclass(frozen=True)
class Job:
    name: str
    module: str  # the config module that owns it; switched off, the job does not run
    run: Sweep
    cron: str  # APScheduler cron fields "minute hour day month day_of_week", local time
    summary: str


JOBS: dict[str, Job] = {}
