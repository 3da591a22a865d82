"""`/wecom/callback`: WeCom's URL check and encrypted callbacks — verify, store, answer; the work comes later."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import Connection, Engine
from sqlalchemy import event as sa_event
from starlette.concurrency import run_in_threadpool

from bot import cards
from bot.cards import Card, Reply
from bot.channels.wecom_crypto import MAX_BODY, CallbackCrypto, Rejected
from bot.channels.wecom_events import CHANNEL, to_event
from bot.events import Event
from store.db import session_scope

if TYPE_CHECKING:  # not imported at run time, so the bench's bare endpoint can use read_body alone
    from bot.runtime import Runtime

ACK = "success"
MAX_BATCH = 200  # events per grouped commit
MAX_HOLD_SECONDS = 0.2  # the longest another transaction waits for pending acknowledgements
TEXT = {"answered": "已处理"}


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
    """One writer per event loop: callbacks that arrive while a batch is being written share the next commit.

    Under light load a batch is one event (one insert, as before); under heavy load one transaction serves
    many callbacks, and SQLite never has several request threads queueing for its write lock.
    """

    def __init__(self, ingest_many: Callable[[list[Event]], list[bool]], max_batch: int = MAX_BATCH,
                 gate: AcksFirst | None = None) -> None:
        self.ingest_many = ingest_many
        self.max_batch = max_batch
        self.gate = gate
        self._waiting: list[tuple[Event, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, event: Event) -> bool:
        """True once the event is committed, False for a redelivery; raises if it could not be stored."""
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


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refused as soon as it is known to exceed `limit` (declared or actually sent)."""
    try:
        declared = int(request.headers.get("content-length") or 0)
    except ValueError:
        raise Rejected(400, "malformed") from None
    if declared > limit:
        raise Rejected(413, "too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(413, "too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def crypto_for(runtime: Runtime) -> CallbackCrypto:
    config = runtime.settings.wecom
    return CallbackCrypto(token=config.token, encoding_aes_key=config.encoding_aes_key, corp_id=config.corp_id,
                          clock=runtime.clock, window_seconds=config.replay_window_seconds)


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter()
    crypto = crypto_for(runtime)
    gate = AcksFirst(runtime.engine) if runtime.engine.dialect.name == "sqlite" else None
    inbox = GroupCommit(runtime.inbox.ingest_many, gate=gate)

    def refuse(exc: Rejected) -> PlainTextResponse:
        runtime.metrics.inbound_rejected.labels(CHANNEL, exc.reason).inc()
        return PlainTextResponse(exc.reason, status_code=exc.status)

    def mark_answered(event: Event) -> None:
        """A clicked WeCom card stays clickable until updated; the click's token is spent, so grey it out."""
        with session_scope(runtime.engine) as session:
            cards.queue(session, Reply.update(Card(title=TEXT["answered"])),
                        dedupe_key=f"wecom:answered:{event.msg_id}", now=runtime.clock.now(), channel=CHANNEL, platform_user=event.sender,
                        update_ref=event.card_ref)
        runtime.wake()

    @api.get("/wecom/callback")
    def verify_url(request: Request) -> PlainTextResponse:
        try:
            return PlainTextResponse(crypto.verify_url(request.query_params))
        except Rejected as exc:
            return refuse(exc)

    @api.post("/wecom/callback")
    async def callback(request: Request, background: BackgroundTasks) -> PlainTextResponse:
        """Answers once the event is committed (grouped Core inserts, off the event loop); redeliveries are no-ops."""
        try:
            message, data, xml = crypto.open(request.query_params, await read_body(request))
        except Rejected as exc:
            return refuse(exc)
        event = to_event(message, data, xml, received_at=runtime.clock.now())
        if await inbox.store(event):
            runtime.wake()
            if event.kind == "card_action" and event.card_ref:
                background.add_task(mark_answered, event)
        return PlainTextResponse(ACK)

    return api
