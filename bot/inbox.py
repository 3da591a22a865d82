"""Inbound flow after the platform has its answer: route, run the handler, queue replies, mark done."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session

from bot import cards, voice
from bot.cards import Reply
from bot.clock import Clock
from bot.events import Context, Event
from bot.metrics import Metrics
from bot.router import Match, Router
from handlers import understand
from rules.loader import RuleSet
from store import actions, alerts, dialogs, inbox, users
from store.db import SQLITE_BUSY_TIMEOUT_MS, session_scope
from store.models import Alert, Dialog, Message, User

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# Sent by the platform itself, or nothing a person asked for: stored and acknowledged, never answered
# (no "没听懂", no unknown-user notice to a DingTalk corp id).
SYSTEM_KINDS = frozenset({"contact_change", "other"})
# How long an acknowledgement waits for a lock (SQLite: the write lock) before it spools instead (WeCom
# allows 5 s for the whole answer).
ACK_BUSY_TIMEOUT_MS = 2000

TEXT = {
    "unknown_user": "您好，您还不是「留痕」的注册用户，暂时无法使用。请联系管理员把您加入组织后再试。",
    "unknown_user_alert": "未注册用户 {sender}（{channel}）在给留痕发消息，请确认是否需要加入组织。",
    "not_understood": "没听懂「{text}」。发送「帮助」查看可用命令。",
    "card_expired": "这张卡片已过期，请重新发起操作。",
    "card_used": "这张卡片已经处理过了。",
    "card_foreign": "这张卡片不是发给您的，无法操作。",
    "card_unknown": "无法识别这次点击，请重新发起操作。",
    "failed": "抱歉，处理您的消息时出错了，已记录并通知管理员，请稍后再试。",
}


def _columns(event: Event) -> dict[str, Any]:
    """A voice row's text column waits for the rep to confirm the transcript (bot.voice); the platform's
    recognition is in the event meanwhile."""
    event = event.storable()
    text = None if event.kind == "voice" else event.text or None
    return {"channel": event.channel, "msg_id": event.msg_id, "kind": event.kind, "received_at": event.received_at,
            "event": event.to_dict(), "sender": event.sender, "chat_id": event.chat, "text": text}


class InboxProcessor:
    """Turns stored inbox rows into outbox rows, exactly once per row, in one transaction each."""

    def __init__(
        self, engine: Engine, router: Router, rules: RuleSet, clock: Clock, metrics: Metrics,
        *, modules: frozenset[str] = frozenset(), max_attempts: int = MAX_ATTEMPTS,
        spool: inbox.Spool | None = None, ack_busy_timeout_ms: int = ACK_BUSY_TIMEOUT_MS,
        voice_reader: voice.VoiceReader | None = None,
    ) -> None:
        self.engine = engine
        self.router = router
        self.rules = rules
        self.clock = clock
        self.metrics = metrics
        self.modules = modules
        self.max_attempts = max_attempts
        self.spool = spool or inbox.spool_for(engine)
        self.ack_busy_timeout_ms = ack_busy_timeout_ms
        self.voice_reader = voice_reader

    def ingest(self, event: Event) -> int | None:
        """Stores the event durably; returns its row id, or None for a redelivery."""
        row_id = inbox.store_inbound_committed(self.engine, **_columns(event))
        (self.metrics.inbound if row_id else self.metrics.inbound_duplicate).labels(event.channel).inc()
        return row_id

    def ingest_many(self, events: list[Event]) -> list[bool]:
        """`ingest` for one channel's concurrent events in one transaction (a grouped commit); True where new.

        When the database is unreachable (or SQLite stays locked past `ack_busy_timeout_ms`) the events are
        appended to the spool instead, and so is everything after them until the worker has replayed it (the
        inbox keeps arrival order). Raises only if neither worked: the platform then gets no acknowledgement.
        """
        rows = [inbox.inbound_row(**_columns(e)) for e in events]
        if self.spool.pending:
            return self._spool(events, rows)
        try:
            new = self._insert(rows)
        except inbox.UNREACHABLE as exc:
            log.warning("inbox: database unreachable (%s); spooling %d event(s)", type(exc).__name__, len(rows))
            return self._spool(events, rows)
        return self._outcomes(events, new)

    def _outcomes(self, events: list[Event], new: set[str]) -> list[bool]:
        stored = []
        for event in events:
            stored.append(event.msg_id in new)
            new.discard(event.msg_id)  # a second copy within the batch is a redelivery
            (self.metrics.inbound if stored[-1] else self.metrics.inbound_duplicate).labels(event.channel).inc()
        return stored

    def _insert(self, rows: list[dict[str, Any]]) -> set[str]:
        """Waits for locks at most `ack_busy_timeout_ms` (then OperationalError: spool), unlike the worker."""
        with self.engine.begin() as conn:
            if conn.dialect.name != "sqlite":
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {self.ack_busy_timeout_ms}")
                return inbox.store_inbound_many(conn, rows)
            conn.exec_driver_sql(f"PRAGMA busy_timeout={self.ack_busy_timeout_ms}")
            try:
                return inbox.store_inbound_many(conn, rows)
            finally:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    def _spool(self, events: list[Event], rows: list[dict[str, Any]]) -> list[bool]:
        """Durable in the spool file: acknowledged as new (a redelivery among them is dropped at replay)."""
        self.spool.append(rows)
        for event in events:
            self.metrics.inbound.labels(event.channel).inc()
        return [True] * len(events)

    def replay_spool(self) -> int:
        """Moves spooled events into the inbox (idempotent); 0 while the database is still unreachable."""
        if not self.spool.pending:
            return 0
        try:
            replayed = self.spool.replay(self.engine)
        except inbox.UNREACHABLE as exc:
            log.warning("inbox spool: database still unreachable (%s)", type(exc).__name__)
            return 0
        log.info("inbox spool: replayed %d event(s)", replayed)
        return replayed

    def process_pending(self) -> int:
        """Replays the spool, then processes every unprocessed row, including those a crash left behind."""
        done = self.replay_spool()
        while True:
            with session_scope(self.engine) as session:
                ids = inbox.unprocessed_ids(session, max_attempts=self.max_attempts)
            if not ids:
                return done
            progressed = sum(1 for message_id in ids if self.process(message_id))
            done += progressed
            if not progressed:
                return done

    def process(self, message_id: int) -> bool:
        started = time.perf_counter()
        try:
            if self.voice_reader is not None:  # before the claim: its network calls hold no lock
                self.voice_reader.prepare(self.engine, message_id)
            with session_scope(self.engine) as session:
                row = self._claim(session, message_id)
                if row is None:
                    return False
                self._handle(session, row)
        except Exception as exc:
            log.exception("inbox %s: handler failed", message_id)
            self._record_failure(message_id, f"{type(exc).__name__}: {exc}")
            self.metrics.processed.labels("error").inc()
            return True
        self.metrics.processed.labels("ok").inc()
        self.metrics.handle_seconds.observe(time.perf_counter() - started)
        return True

    def _claim(self, session: Session, message_id: int) -> Message | None:
        # A guarded write first: it takes the row (PostgreSQL) or the database (SQLite) lock, so two
        # workers can never both process the same row.
        result = session.execute(
            update(Message)
            .where(Message.id == message_id, Message.processed_at.is_(None), Message.attempts < self.max_attempts)
            .values(attempts=Message.attempts + 1)
        )
        if result.rowcount != 1:
            return None
        return session.get(Message, message_id)

    def _handle(self, session: Session, row: Message) -> None:
        event = Event.from_dict(row.event)
        now = self.clock.now()
        user = users.by_platform_id(session, event.channel, event.sender)
        if event.kind in SYSTEM_KINDS:  # no person to resolve (WeCom's sender is "sys", DingTalk's the corp id)
            replies = self._run_handler(session, event, User(id="", name=event.sender, role="admin"), now)
        elif user is None:
            replies = self._unknown_sender(session, event, now)
        else:
            row.user_id = user.id
            replies = self._run_handler(session, event, user, now)
        for index, reply in enumerate(replies):
            self._queue(session, reply, event, user, dedupe_key=f"reply:{row.id}:{index}", now=now)
        row.processed_at = now
        session.add(row)

    def _run_handler(self, session: Session, event: Event, user: User, now: datetime) -> list[Reply]:
        action_name: str | None = None
        action_data: dict = {}
        if event.kind == "card_action":
            refusal, action_name, action_data = self._resolve_action(session, event, user)
            if refusal:
                return [Reply.say(refusal)]
        dialog = dialogs.active(session, user.id, now=now)
        spoken = self._spoken(session, event, action_name, action_data, dialog, now)
        if spoken is not None:  # a voice message's transcript, confirmed or corrected: on as typed chat
            event, action_name, action_data = spoken, None, {}
            dialog = dialogs.active(session, user.id, now=now)
        match = self.router.resolve(event, flow=dialog.flow if dialog else None, action=action_name, data=action_data)
        ctx = Context(
            session=session, user=user, now=now, tz=self.clock.tz, rules=self.rules,
            commands=self.router.commands, dialog=dialog, args=match.args if match else "", action_data=action_data,
            modules=self.modules,
        )
        if event.kind == "text" and match is not None and match.route.kind == "flow" \
                and understand.leaves_dialog(ctx, event.text):
            match = self.router.command(understand.CANCEL, "") or match
        elif event.kind == "text" and event.chat is None and (match is None or match.route.kind == "kind"):
            understood = self._understand(event, ctx)
            if isinstance(understood, list):
                return understood
            match = understood or match
        if match is None:
            if event.kind == "text" and event.chat is None and event.text.strip():
                return [Reply.say(TEXT["not_understood"].format(text=event.text.strip()[:30]))]
            return []
        result = match.handler(event, ctx)
        if result is None:
            return []
        return [result] if isinstance(result, Reply) else list(result)

    def _spoken(self, session: Session, event: Event, action: str | None, data: dict, dialog: Dialog | None,
                now: datetime) -> Event | None:
        if event.kind == "card_action":
            return voice.confirmed(session, event, action, data, now=now)
        if event.kind == "text" and self.router.command_for(event.text) is None:  # 取消 still cancels
            return voice.corrected(session, event, dialog, now=now)
        return None

    def _understand(self, event: Event, ctx: Context) -> Match | list[Reply] | None:
        """Free text that is no command and no dialog answer: the command it means (ctx set up to run it), the one
        confirming question when unsure, or None for a plain note."""
        intent = understand.read(ctx, event.text)
        if understand.is_note(intent):
            return None
        step = understand.step(ctx, event, intent)
        if step is None:
            return understand.confirm(ctx, event, intent)
        match = self.router.command(step.command, step.args) if step.command else self.router.action_for(step.action or "")
        if match is None:
            return None
        ctx.args, ctx.action_data = match.args, step.data
        return match

    def _resolve_action(self, session: Session, event: Event, user: User) -> tuple[str | None, str | None, dict]:
        """Never trusts the client: the token must exist, be for this user, unexpired and unanswered."""
        found = actions.lookup(session, event.action or "")
        now = self.clock.now()
        if found is None:
            return TEXT["card_unknown"], None, {}
        if found.user_id is not None and found.user_id != user.id:
            return TEXT["card_foreign"], None, {}
        if found.expires_at <= now:
            return TEXT["card_expired"], None, {}
        if found.used_at is not None or not actions.spend_card(session, found.card_id, now=now):
            return TEXT["card_used"], None, {}
        return None, found.action, dict(found.data)

    def _unknown_sender(self, session: Session, event: Event, now: datetime) -> list[Reply]:
        """One polite answer and one admin alert per unknown sender per day, however often they write."""
        key = f"unknown_user:{event.channel}:{event.sender}:{self.clock.today().isoformat()}"
        notice = TEXT["unknown_user_alert"].format(sender=event.sender, channel=event.channel)
        if not alerts.exists(session, key):
            session.add(Alert(kind="unknown_user", level="info", dedupe_key=key, message=notice, created_at=now))
        for admin in users.admins(session):
            cards.queue(session, Reply.say(notice, to_user=admin.id), dedupe_key=f"{key}:admin:{admin.id}", now=now)
        reply = Reply.say(TEXT["unknown_user"], to_chat=event.chat)
        cards.queue(
            session, reply, dedupe_key=f"{key}:reply", now=now, channel=event.channel,
            platform_user=None if event.chat else event.sender,
        )
        return []

    def _queue(self, session: Session, reply: Reply, event: Event, user: User | None, *, dedupe_key: str,
               now: datetime) -> None:
        own_reply = reply.to_user is None and reply.to_chat is None
        clicked_card = reply.kind == "card_update" and reply.replaces is None
        if own_reply:
            if event.chat:
                reply.to_chat = event.chat
            else:
                reply.to_user = user.id if user else None
        cards.queue(
            session, reply, dedupe_key=dedupe_key, now=now,
            channel=event.channel if (own_reply or clicked_card) else None,
            update_ref=event.card_ref if clicked_card else None,
        )

    def _record_failure(self, message_id: int, error: str) -> None:
        with session_scope(self.engine) as session:
            inbox.record_failure(session, message_id, error)
            row = session.get(Message, message_id)
            if row is None or row.attempts < self.max_attempts:
                return
            row.processed_at = self.clock.now()
            session.add(row)
            event = Event.from_dict(row.event)
            user = users.by_platform_id(session, event.channel, event.sender)
            self._queue(session, Reply.say(TEXT["failed"]), event, user, dedupe_key=f"reply:{row.id}:failed",
                        now=row.processed_at)


