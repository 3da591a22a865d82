"""`/wecom/callback`: WeCom's URL check and encrypted callbacks — verify, store, answer; the work comes later."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import PlainTextResponse

from bot.channels.wecom_crypto import MAX_BODY, CallbackCrypto, Rejected
from bot.channels.wecom_events import CHANNEL, to_event
from bot.events import Event
from bot.group_commit import GroupCommit
from store import outbox
from store.db import session_scope

if TYPE_CHECKING:  # not imported at run time, so the bench's bare endpoint can use read_body alone
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

ACK = ""  # WeCom's documented acknowledgement is an empty 200 body; `success` is the Official Account's
UNAVAILABLE = "unavailable"


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
    inbox = GroupCommit(runtime.inbox.ingest_many, gate=runtime.ack_gate)

    def refuse(exc: Rejected) -> PlainTextResponse:
        runtime.metrics.inbound_rejected.labels(CHANNEL, exc.reason).inc()
        return PlainTextResponse(exc.reason, status_code=exc.status)

    def mark_answered(event: Event) -> None:
        """A clicked WeCom card stays clickable until updated, though the click's token is spent: this marker
        greys its buttons out, unless the click's handler sends a new card with the same ResponseCode."""
        with session_scope(runtime.engine) as session:
            outbox.enqueue(session, dedupe_key=f"wecom:answered:{event.msg_id}", kind="card_update",
                           payload={"update_ref": event.card_ref, "answers": event.msg_id},
                           now=runtime.clock.now(), channel=CHANNEL, platform_user=event.sender)
        runtime.wake()

    @api.get("/wecom/callback")
    def verify_url(request: Request) -> PlainTextResponse:
        try:
            return PlainTextResponse(crypto.verify_url(request.query_params))
        except Rejected as exc:
            return refuse(exc)

    @api.post("/wecom/callback")
    async def callback(request: Request, background: BackgroundTasks) -> PlainTextResponse:
        """Answers once the event is committed (grouped Core inserts, off the event loop) or spooled; redeliveries
        are no-ops."""
        try:
            message, data, xml = crypto.open(request.query_params, await read_body(request))
        except Rejected as exc:
            return refuse(exc)
        event = to_event(message, data, xml, received_at=runtime.clock.now())
        try:
            stored = await inbox.store(event)
        except Exception:  # neither the database nor the spool took it: WeCom retries what it gets no 200 for
            log.exception("wecom callback %s: not stored, not acknowledged", event.msg_id)
            return PlainTextResponse(UNAVAILABLE, status_code=503)
        if stored:
            runtime.wake()
            if event.kind == "card_action" and event.card_ref:
                background.add_task(mark_answered, event)
        return PlainTextResponse(ACK)

    return api
