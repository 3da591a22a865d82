"""Named jobs that `liuhen jobs list/run` and the scheduler know about; modules add theirs here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from rules.loader import RuleSet
from scheduler import stage_lights

Sweep = Callable[[Session, datetime, RuleSet, ZoneInfo], int]


@dataclass(frozen=True)
class Job:
    name: str
    module: str  # the config module that owns it; switched off, the job does not run
    run: Sweep
    summary: str


JOBS: dict[str, Job] = {
    job.name: job
    for job in [
        Job("stage_lights", "stage_lights", stage_lights.run, "阶段红绿灯：停滞亮黄灯提醒销售，超期升级给主管"),
    ]
}
