"""Everything one process needs, built once from Settings: engine, rules, router, channels, workers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

from sqlalchemy import Engine, text

import nlp
from bot import asr, audio, links
from bot.channels.base import Channel
from bot.channels.dingtalk import DingTalkChannel
from bot.channels.local import LocalChannel
from bot.channels.wecom import WeComChannel
from bot.channels.wecom_api import WeComApi
from bot.clock import Clock
from bot.company_data import provider_from, with_provider
from bot.config import ConfigError, ModulesConfig, Settings
from bot.group_commit import AcksFirst
from bot.inbox import InboxProcessor
from bot.metrics import Metrics
from bot.modules import enabled_routes, is_enabled
from bot.outbox import Dispatcher
from bot.router import Router
from bot.rulebook import Book, LiveBook
from bot.voice import VoiceReader
from rules.notify import delivery_time
from scheduler.registry import JOBS, Job
from scheduler.runner import SweepScheduler, fire_times, run_sweep
from store import migrate, outbox
from store.db import make_engine, session_scope

log = logging.getLogger(__name__)

IDLE_WAIT_SECONDS = 1.0
RECOVER_EVERY_SECONDS = 60.0  # sends left in `sending` by a crash (older than STALE_SENDING) go back to pending


@dataclass(frozen=True)
class Leap:
    """What a 快进 did: where the clock is now, the pushes the sweeps wrote, and how many quiet hours held."""

    now: datetime
    pushed: int
    held: int


def scheduled_jobs(settings: Settings, modules: ModulesConfig, today: Callable[[], date]) -> list[Job]:
    """The enabled jobs as the scheduler runs them (`company_events` fetching first when a provider is set); what
    `liuhen jobs run` runs too."""
    jobs = [job for job in JOBS.values() if is_enabled(modules, job.module)]
    return with_provider(jobs, provider_from(settings.company_data, today))


def _switched_on(modules: ModulesConfig) -> frozenset[str]:
    return frozenset(name for name, on in modules if on)


class Runtime:
    """The app's parts; `start()` runs the inbox and outbox workers in one background thread."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock(settings.tz)
        self.engine = engine or make_engine(settings.database.url)
        self.live = LiveBook(settings, self.engine, self._apply)
        self.rules, self.modules = self.live.book.rules, self.live.book.modules
        self.router = Router(enabled_routes(self.modules))
        self.metrics = Metrics()
        self.channels: dict[str, Channel] = {}
        if settings.wecom.enabled:  # first: rows without a channel go to the first channel that reaches the user
            self.channels["wecom"] = WeComChannel(WeComApi(settings.wecom, self.engine, self.clock))
        self.dingtalk: DingTalkChannel | None = None
        if settings.dingtalk.enabled:
            self.dingtalk = self.channels["dingtalk"] = DingTalkChannel(settings.dingtalk, self.engine, self.clock,
                                                                           metrics=self.metrics)
        if settings.local.enabled:
            self.channels["local"] = LocalChannel(self.clock)
        # SQLite has one writer: acknowledgements of both channels go before the worker's transactions.
        self.ack_gate = AcksFirst(self.engine) if self.engine.dialect.name == "sqlite" else None
        self.inbox = InboxProcessor(self.engine, self.router, self.rules, self.clock, self.metrics,
                                    modules=_switched_on(self.modules), voice_reader=self._voice_reader())
        self.dispatcher = Dispatcher(self.engine, self.channels, self.clock, self.metrics, sign_link=self.sign_link)
        self.jobs = scheduled_jobs(settings, self.modules, self.clock.today)
        self.scheduler = SweepScheduler(self.engine, self.jobs, self.rules, self.clock.tz, self.clock.now, self.wake,
                                        before_sweep=self.refresh)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._warm = threading.Event()  # set once the worker has loaded jieba
        self._scheduling = False

    def _voice_reader(self) -> VoiceReader:
        """A transcribing provider without ffmpeg, or a local engine without its model directory or Vosk, stops
        start-up with the reason rather than failing each voice message."""
        try:
            provider = asr.provider_from(self.settings.asr)
            if provider.name != "none":
                audio.require_ffmpeg()
        except (asr.AsrError, audio.AudioError) as exc:
            raise ConfigError([f"asr: {exc}"]) from None
        wecom = self.channels.get("wecom")
        return VoiceReader(provider, {"wecom": wecom.api.download} if isinstance(wecom, WeComChannel) else {})

    @cached_property
    def signer(self) -> links.LinkSigner:
        """Built on first use, once the database (which may hold the generated secret) has been migrated."""
        return links.signer_for(self.settings, self.engine)

    def sign_link(self, target: str, viewer: str | None, now: datetime) -> str:
        return self.signer.resolve(target, viewer, now)

    def migrate(self) -> None:
        migrate.upgrade(self.engine)
        self.refresh()

    def refresh(self) -> bool:
        """Before each sweep and each inbox round: a rule version saved by any process since is taken up."""
        return self.live.refresh()

    def _apply(self, book: Book) -> None:
        self.rules, self.modules = book.rules, book.modules
        self.router = Router(enabled_routes(book.modules))
        self.inbox.router, self.inbox.rules, self.inbox.modules = self.router, book.rules, _switched_on(book.modules)
        self.jobs = scheduled_jobs(self.settings, book.modules, self.clock.today)
        self.scheduler.reconfigure(self.jobs, book.rules)

    def work_once(self) -> int:
        """Processes the inbox, then delivers what is due; returns how much was done."""
        return self.inbox.process_pending() + self.dispatcher.run_once()

    def fast_forward(self, days: int) -> Leap:
        """The demo's 快进: every enabled sweep runs at each time the scheduler would run it on the way, in order,
        and what falls due is delivered as the clock passes it — so the evening's report digest is not skipped,
        and pushes written in quiet hours wait for their end as they would for real. Then every sweep runs once more
        as of the new now (state-based and deduped, so nothing is said twice): what is due by then is shown."""
        self.refresh()
        start = self.clock.now()
        end = start + timedelta(days=days)
        runs = sorted([(at, job.name, job) for job in self.jobs if (cron := self.rules.notify.schedule.get(job.name))
                       for at in fire_times(cron, self.clock.tz, start, end)] + [(end, job.name, job) for job in self.jobs])
        pushed = held = 0
        for at, _, job in runs:
            self.clock.advance(at - self.clock.now())
            self.work_once()
            written = run_sweep(self.engine, job, at, self.rules, self.clock.tz)
            pushed += written
            held += written if delivery_time(at, self.clock.tz, self.rules.notify) > at else 0
        self.clock.advance(end - self.clock.now())
        self.work_once()
        return Leap(self.clock.local_now(), pushed, held)

    def start(self, *, with_scheduler: bool = True) -> None:
        """Keeps working in the background: first what a crash left behind, then what arrives.

        jieba's ≈1.5 s load happens in the worker before its first round, not inside the first user's message
        and not before the server can acknowledge callbacks.
        """
        self.dispatcher.recover_stale()
        self._stop.clear()
        self._worker = threading.Thread(target=self._loop, name="liuhen-worker", daemon=True)
        self._worker.start()
        if self.dingtalk:  # after the worker: what the stream stores is processed at once
            self.dingtalk.listen(self.inbox.ingest_many, self.wake, gate=self.ack_gate)
        if with_scheduler:
            self.scheduler.start()
            self._scheduling = True

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        if self.dingtalk:
            self.dingtalk.close()
        if self._scheduling:
            self.scheduler.stop()
            self._scheduling = False
        self._stop.set()
        self._wake.set()
        if self._worker:
            self._worker.join(timeout=10)
            self._worker = None

    def _loop(self) -> None:
        """At least one round, even when stop() came during jieba's load: it resumes what a crash left."""
        nlp.init()
        self._warm.set()
        recovered_at = time.monotonic()
        while True:
            self._wake.clear()
            try:
                if time.monotonic() - recovered_at >= RECOVER_EVERY_SECONDS:
                    recovered_at = time.monotonic()
                    self.dispatcher.recover_stale()  # a send cut short by a crash is retried without a restart
                self.refresh()
                busy = self.work_once()
            except Exception:
                log.exception("worker round failed")
                busy = 0
            if self._stop.is_set():
                return
            if not busy:
                self._wake.wait(IDLE_WAIT_SECONDS)

    def health(self) -> dict[str, object]:
        status: dict[str, object] = {}
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            status["database"] = "ok"
        except Exception as exc:
            status["database"] = f"error: {type(exc).__name__}"
        alive = self._worker is not None and self._worker.is_alive()
        # "starting" while jieba loads (≈1.5 s, holding the GIL): callbacks are acknowledged, replies wait
        status["worker"] = ("running" if self._warm.is_set() else "starting") if alive else "stopped"
        status["scheduler"] = self.scheduler.state if self._scheduling else "stopped"
        status["channels"] = {name: getattr(ch, "state", "ok") for name, ch in self.channels.items()}
        status["rules_version"] = self.live.book.version  # the saved version this process runs by (None: files)
        return status

    def refresh_gauges(self) -> None:
        with session_scope(self.engine) as session:
            self.metrics.outbox_pending.set(outbox.pending_count(session))
        wecom = self.channels.get("wecom")
        if isinstance(wecom, WeComChannel):
            self.metrics.wecom_daily_sent.set(wecom.daily_cap.sent)
            self.metrics.wecom_daily_cap.set(wecom.daily_cap.cap)
