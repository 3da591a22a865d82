"""Grouped commits for the acknowledge path of every channel: many concurrent events, one transaction."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy import event as sa_event
from starlette.concurrency import run_in_threadpool

from bot.events import Event

MAX_BATCH = 200  # events per grouped commit
MAX_HOLD_SECONDS = 0.2  # the longest another transaction waits for pending acknowledgements


class AcksFirst:
    """On SQLite: while acknowledgements wait to be written, other transactions wait (at most `max_hold`) to begin.

    SQLite has one writer at a time and its busy handler polls with sleeps of up to 100 ms, so a worker that
    runs transaction after transaction re-takes the lock before a waiting acknowledgement wakes up, and the
    platform's 5 s deadline passes. Waiting only at `begin` (holding no lock) cannot deadlock.
    """

    def __init__(self, engine: Engine, max_hold: float = MAX_HOLD_SECONDS) -> None:
        self.max_hold = max_hold
        self._open = threading.Event()
        self._open.set()
        self._writer = threading.local()
        sa_event.listen(engine, "begin", self._before_begin)

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    @contextmanager
    def writing(self) -> Iterator[None]:
        self._writer.active = True
        try:
            yield
        finally:
            self._writer.active = False

    def _before_begin(self, _conn: Connection) -> None:
        if not getattr(self._writer, "active", False):
            self._open.wait(self.max_hold)


class GroupCommit:
    """One writer per event loop: events that arrive while a batch is being written share the next commit.

    Under light load a batch is one event (one insert); under heavy load one transaction serves many
    callbacks, and SQLite never has several request threads queueing for its write lock.
    """

    def __init__(self, ingest_many: Callable[[list[Event]], list[bool]], max_batch: int = MAX_BATCH,
                 gate: AcksFirst | None = None) -> None:
        self.ingest_many = ingest_many
        self.max_batch = max_batch
        self.gate = gate
        self._waiting: list[tuple[Event, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, event: Event) -> bool:
        """True once the event is durable, False for a redelivery; raises if it could not be stored."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, future))
        if self.gate:
            self.gate.close()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
                outcomes = await run_in_threadpool(self._ingest, [event for event, _ in batch])
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # the client went away
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            if self.gate:
                self.gate.open()

    def _ingest(self, events: list[Event]) -> list[bool | Exception]:
        """A failing batch is retried one event at a time, so one bad event cannot refuse its neighbours."""
        try:
            if self.gate:
                with self.gate.writing():
                    return list(self.ingest_many(events))
            return list(self.ingest_many(events))
        except Exception as exc:
            if len(events) == 1:
                return [exc]
            return [outcome for event in events for outcome in self._ingest([event])]
