"""APScheduler wiring: the elected leader runs each enabled sweep on its cron; followers keep asking."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from rules.loader import RuleSet
from rules.notify import delivery_time
from scheduler.leader import Leadership
from scheduler.registry import Job
from store import outbox
from store.db import session_scope

log = logging.getLogger(__name__)

LEADER_RETRY_SECONDS = 20  # a follower takes over within this long after the leader dies
MISFIRE_GRACE_SECONDS = 600  # a sweep due while the process restarted still runs (APScheduler's default is 1 s)


def run_sweep(engine: Engine, job: Job, at: datetime, rules: RuleSet, tz: ZoneInfo, *,
              now: datetime | None = None) -> int:
    """Runs one sweep as of `at`. Run by hand (`now`: the real time), what it queues is due now rather than at
    `at`, quiet hours holding at the real time, so `liuhen outbox flush` right after delivers it."""
    with session_scope(engine) as session:
        written = job.run(session, at, rules, tz)
        if now is not None and now != at:
            outbox.retime_queued(session, created_at=at, due_at=delivery_time(now, tz, rules.notify))
        return written


def fire_times(cron: str, tz: ZoneInfo, after: datetime, until: datetime) -> Iterator[datetime]:
    """When the scheduler would run a job with this crontab in (after, until]: what the demo's 快进 replays."""
    trigger = CronTrigger.from_crontab(cron, timezone=tz)
    instant = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while instant is not None and instant <= until:
        yield instant
        instant = trigger.get_next_fire_time(instant, instant + timedelta(microseconds=1))


class SweepScheduler:
    def __init__(self, engine: Engine, jobs: Iterable[Job], rules: RuleSet, tz: ZoneInfo,
                 now: Callable[[], datetime], after_sweep: Callable[[], None],
                 before_sweep: Callable[[], object] = lambda: None) -> None:
        self.engine = engine
        self.jobs = list(jobs)
        self.rules = rules
        self.tz = tz
        self.now = now
        self.after_sweep = after_sweep
        self.before_sweep = before_sweep  # picks up a rule version saved since the last sweep (it may reconfigure)
        self.leadership = Leadership(engine)
        self._scheduler = BackgroundScheduler(
            timezone=tz, job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS,
                                       "max_instances": 1},
        )

    def start(self) -> None:
        self._scheduler.add_job(self.leadership.try_acquire, "interval", seconds=LEADER_RETRY_SECONDS,
                                id="leader", next_run_time=self.now())
        self._add_sweeps()
        self._scheduler.start()

    def _add_sweeps(self) -> None:
        for job in self.jobs:
            cron = self.rules.notify.schedule.get(job.name)
            if cron:
                self._scheduler.add_job(self.tick, CronTrigger.from_crontab(cron, timezone=self.tz),
                                        args=[job.name], id=job.name, replace_existing=True)

    def reconfigure(self, jobs: Iterable[Job], rules: RuleSet) -> None:
        """A new rule version: jobs of modules switched off stop, new crons apply, the next sweeps use `rules`."""
        self.jobs, self.rules = list(jobs), rules
        if self._scheduler.running:
            for scheduled in self._scheduler.get_jobs():
                if scheduled.id != "leader":
                    scheduled.remove()
            self._add_sweeps()

    def stop(self) -> None:
        self._scheduler.shutdown(wait=False)
        self.leadership.release()

    @property
    def state(self) -> str:
        return "leader" if self.leadership.held else "follower"

    def tick(self, name: str) -> None:
        """One scheduled run of a job, as its cron fires it (the leader only)."""
        if not self.leadership.held:
            return
        self.before_sweep()
        job = next((each for each in self.jobs if each.name == name), None)
        if job is None:  # its module was switched off by the version just loaded
            return
        try:
            written = run_sweep(self.engine, job, self.now(), self.rules, self.tz)
            log.info("sweep %s wrote %s pushes", job.name, written)
        except Exception:
            log.exception("sweep %s failed; the next run catches up (sweeps are state-based)", job.name)
        self.after_sweep()
