"""The dispatcher: the only code that calls platform APIs, one outbox row at a time.

Per member or group it keeps under the platform's messages-per-minute limit, and per-hour limit where there is
one (WeCom drops the excess of either silently);
what does not fit is folded into one digest sent when the window has room. A rate-limit answer pauses the
channel without spending the row's attempts.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Engine, update
from sqlmodel import Session

from bot.channels.base import Channel, DeliveryError
from bot.channels.dingtalk_api import DingTalkApiError
from bot.channels.parts import PROGRESS
from bot.channels.wecom_api import WeComApiError
from bot.clock import Clock
from bot.metrics import Metrics
from store import outbox
from store.db import session_scope
from store.models import Outbox, User

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
STALE_SENDING = timedelta(minutes=5)
WINDOW = timedelta(minutes=1)  # the platforms' per-recipient limits are per minute
HOUR = timedelta(hours=1)  # and WeCom's also per hour
DIGEST_PREFIX = "digest:"
MORE_PREFIX = "more:"  # the rest of a text longer than one minute's allowance, sent after it
APP_WIDE_LIMITS = (WeComApiError, DingTalkApiError)  # their rate limits are the app's: pause the whole channel

SignLink = Callable[[str, str | None, datetime], str]  # (`dash:PAGE` or url, our user id, now) → the URL to send

TEXT = {
    "digest": "另有 {n} 条提醒（一分钟内消息太多，合并发送）：",
}
MESSAGES = {
    "no_channel": "收件人在已启用的渠道里都没有账号",
    "unknown_channel": "渠道未启用：{channel}",
}


@runtime_checkable
class Throttled(Protocol):
    """A channel whose platform caps the messages one recipient may get per minute."""

    name: str
    per_minute: int

    def messages_needed(self, message: Outbox, address: str | None) -> int:
        """Platform messages delivering this row would send now."""

    def split_off(self, message: Outbox, parts: int) -> tuple[str, str]:
        """A text or markdown row's text cut after its first `parts` messages."""


@runtime_checkable
class HourlyThrottled(Protocol):
    """A throttled channel whose platform also caps the messages one recipient may get per hour."""

    per_hour: int


def _limits(channel: Throttled) -> list[tuple[timedelta, int]]:
    hourly = [(HOUR, channel.per_hour)] if isinstance(channel, HourlyThrottled) else []
    return [(WINDOW, channel.per_minute), *hourly]


def _room_at(sends: list[tuple[datetime, int]], needed: int, window: timedelta, limit: int, now: datetime
             ) -> datetime | None:
    """When `needed` more messages fit in `window` after `sends` (oldest first), or None if they fit now."""
    used = sum(count for _, count in sends)
    if not used or used + needed <= limit:
        return None
    excess, freed = min(used + needed - limit, used), 0
    for sent_at, count in sends:
        freed += count
        if freed >= excess:
            return sent_at + window
    return now + window


def _foldable(row: Outbox, needed: int) -> bool:
    """Short plain content can join a digest; long texts, buttons, pictures and digests wait for room instead."""
    if needed > 1 or row.dedupe_key.startswith((DIGEST_PREFIX, MORE_PREFIX)):
        return False
    return row.kind in ("text", "markdown") or (row.kind == "card" and not row.payload["card"].get("buttons"))


def _digest_item(row: Outbox) -> str:
    if row.kind != "card":
        return str(row.payload.get("text", ""))
    card = row.payload["card"]
    lines = [card["title"], *card.get("lines", []), *(f"{key}：{value}" for key, value in card.get("fields", []))]
    if card.get("link"):
        lines.append(f"{card['link'][0]}：{card['link'][1]}")
    return "\n".join(lines)


def _with_item(payload: Mapping[str, Any], row_id: int, item: str) -> dict[str, Any]:
    items = [*payload.get("items", []), item]
    body = "\n".join(f"{n}. {text}" for n, text in enumerate(items, 1))
    return {"text": TEXT["digest"].format(n=len(items)) + "\n" + body, "items": items,
            "folded": [*payload.get("folded", []), row_id]}


def _render_chart(row: Outbox) -> None:
    """Charts are drawn here, once, so sweeps stay cheap and retries resend the same picture."""
    if row.kind != "image" or "chart" not in row.payload or "image_b64" in row.payload:
        return
    from bot import charts  # matplotlib costs ≈1 s; only a process that sends a chart pays it

    try:
        png = charts.render(row.payload["chart"])
    except charts.ChartError as exc:
        raise DeliveryError(str(exc), permanent=True) from exc
    row.payload = {**row.payload, "image_b64": base64.b64encode(png).decode("ascii")}


class Dispatcher:
    """Claims due rows, sends each through its channel, records the outcome with backoff."""

    def __init__(
        self, engine: Engine, channels: Mapping[str, Channel], clock: Clock, metrics: Metrics,
        *, max_attempts: int = MAX_ATTEMPTS, sign_link: SignLink | None = None,
    ) -> None:
        self.engine = engine
        self.channels = channels
        self.clock = clock
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.sign_link = sign_link
        self._paused: dict[str, datetime] = {}  # channel → end of a rate-limit pause (this process)

    def run_once(self, *, limit: int = 100) -> int:
        """Delivers what is due now; returns how many rows were attempted."""
        with session_scope(self.engine) as session:
            ids = [row.id for row in outbox.due(session, now=self.clock.now(), limit=limit)]
        return sum(1 for row_id in ids if self._deliver(row_id))

    def flush(self) -> int:
        """Everything due now, until nothing is left that is due (used by `liuhen outbox flush`)."""
        total = 0
        while (done := self.run_once()) > 0:
            total += done
        return total

    def recover_stale(self) -> int:
        """Rows left in `sending` by a crash go back to pending (at-least-once for that narrow case)."""
        cutoff = self.clock.now() - STALE_SENDING
        with session_scope(self.engine) as session:
            result = session.execute(
                update(Outbox)
                .where(Outbox.status == "sending", Outbox.next_attempt_at <= cutoff)
                .values(status="pending")
            )
            return result.rowcount

    def _claim(self, row_id: int) -> bool:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            result = session.execute(
                update(Outbox)
                .where(Outbox.id == row_id, Outbox.status == "pending", Outbox.next_attempt_at <= now)
                .values(status="sending", next_attempt_at=now)
            )
            return result.rowcount == 1

    def _route(self, session: Session, row: Outbox) -> tuple[Channel, str | None]:
        if row.channel:
            channel = self.channels.get(row.channel)
            if channel is None:
                raise DeliveryError(MESSAGES["unknown_channel"].format(channel=row.channel), permanent=True)
            user = session.get(User, row.user_id) if row.user_id else None
            return channel, row.platform_user or (channel.address_of(user) if user else None)
        user = session.get(User, row.user_id) if row.user_id else None
        for channel in self.channels.values():
            address = channel.address_of(user) if user else None
            if address:
                return channel, address
        raise DeliveryError(MESSAGES["no_channel"], permanent=True)

    def _deliver(self, row_id: int) -> bool:
        if not self._claim(row_id):
            return False
        with session_scope(self.engine) as session:
            row = session.get(Outbox, row_id)
            assert row is not None
            channel_name = row.channel or "auto"
            unsigned: list[str] | None = None
            try:
                self._resolve_replacement(session, row)
                channel, address = self._route(session, row)
                channel_name = channel.name
                if self._wait_for_pause(session, row, channel_name):
                    return True
                if self._after_predecessor(session, row):
                    return True
                _render_chart(row)
                unsigned = self._sign(row)
                messages = 0
                if isinstance(channel, Throttled):
                    messages = channel.messages_needed(row, address)
                    if messages > channel.per_minute:
                        messages = self._split_overflow(session, row, channel, address)
                        session.commit()  # before any API call: a token refresh writes from another connection
                    if messages and self._throttle(session, row, channel, address, messages):
                        return True
                done_before = len(row.payload.get(PROGRESS, []))
                ref = channel.deliver(session, row, address)
            except DeliveryError as exc:
                if exc.permanent and _refused_replacement(row):  # the platform no longer takes the update
                    outbox.mark_waiting(session, row, next_attempt_at=self.clock.now(), error=str(exc))
                    return True
                if len(row.payload.get(PROGRESS, [])) > done_before:  # some parts went out: they count too
                    self._pin_route(row, channel_name, address)
                    outbox.mark_partly_sent(session, row, now=self.clock.now(),
                                            messages=len(row.payload[PROGRESS]) - done_before)
                self._failed(session, row, channel_name, exc)
                return True
            except Exception as exc:  # an adapter bug must not lose the message
                log.exception("outbox %s: unexpected error from %s", row_id, channel_name)
                self._failed(session, row, channel_name, DeliveryError(f"{type(exc).__name__}: {exc}"))
                return True
            finally:
                self._unsign(row, unsigned)  # the row keeps `dash:PAGE`: a retry signs it afresh
            self._pin_route(row, channel_name, address)
            outbox.mark_sent(session, row, now=self.clock.now(), platform_ref=ref, messages=messages)
            self.metrics.outbox_sent.labels(channel_name).inc()
            return True

    def _resolve_replacement(self, session: Session, row: Outbox) -> None:
        """A card replacing one we sent earlier goes to the original's chat and updates it in place when its
        platform still allows that (`ref_of`); otherwise it is sent as a new card, so nothing is lost."""
        if row.kind != "card_update" or "replaces" not in row.payload or "update_ref" in row.payload:
            return
        original = session.get(Outbox, row.payload["replaces"])
        channel = self.channels.get(original.channel or "") if original and original.status == "sent" else None
        ref = channel.ref_of(original, self.clock.now()) if channel and original else None
        if ref is None:
            row.kind = "card"
        else:
            assert original is not None
            row.channel, row.platform_user = original.channel, original.platform_user
            row.payload = {**row.payload, "update_ref": ref}
        session.commit()  # before any API call: a token refresh writes from another connection

    def _sign(self, row: Outbox) -> list[str] | None:
        """A card's `dash:PAGE` link signed for its recipient as it goes out (so it expires a week after it was
        received); returns the unsigned link, which the row keeps (_unsign)."""
        card = row.payload.get("card") if row.kind in ("card", "card_update") else None
        link = card.get("link") if card else None
        if not link or self.sign_link is None:
            return None
        signed = [link[0], self.sign_link(link[1], row.user_id, self.clock.now())]
        row.payload = {**row.payload, "card": {**card, "link": signed}}
        return list(link)

    @staticmethod
    def _unsign(row: Outbox, unsigned: list[str] | None) -> None:
        if unsigned is not None:
            row.payload = {**row.payload, "card": {**row.payload["card"], "link": unsigned}}

    @staticmethod
    def _pin_route(row: Outbox, channel_name: str, address: str | None) -> None:
        """The route taken, so the throttle can count what this recipient got."""
        row.channel = channel_name
        row.platform_user = row.platform_user if row.chat_id else address

    def _wait_for_pause(self, session: Session, row: Outbox, channel_name: str) -> bool:
        until = self._paused.get(channel_name)
        if until is None or until <= self.clock.now():
            return False
        outbox.mark_waiting(session, row, next_attempt_at=until)
        return True

    def _after_predecessor(self, session: Session, row: Outbox) -> bool:
        """The rest of a long text waits until the part before it went out (or failed for good)."""
        before = session.get(Outbox, row.payload["after"]) if "after" in row.payload else None
        if before is None or before.status in ("sent", "failed"):
            return False
        outbox.mark_waiting(session, row, next_attempt_at=max(before.next_attempt_at, self.clock.now()) + WINDOW)
        return True

    def _split_overflow(self, session: Session, row: Outbox, channel: Throttled, address: str | None) -> int:
        """A text needing more messages than one minute allows: this row keeps what fits, the rest follows."""
        if row.kind not in ("text", "markdown") or row.payload.get(PROGRESS):
            return channel.messages_needed(row, address)
        assert row.id is not None
        head, tail = channel.split_off(row, channel.per_minute)
        outbox.enqueue(
            session, dedupe_key=f"{MORE_PREFIX}{row.id}", kind=row.kind,
            payload={**row.payload, "text": tail, "after": row.id}, now=self.clock.now(),
            due_at=self.clock.now() + WINDOW, channel=channel.name, user_id=row.user_id,
            platform_user=row.platform_user, chat_id=row.chat_id,
        )
        row.payload = {**row.payload, "text": head}
        return channel.messages_needed(row, address)

    def _throttle(self, session: Session, row: Outbox, channel: Throttled, address: str | None, needed: int
                  ) -> bool:
        """True when this recipient's minute (or hour) is full: the row joins the digest, or waits for room."""
        now = self.clock.now()
        recipient = row.chat_id or address
        assert recipient is not None
        limits = _limits(channel)
        longest = max(window for window, _ in limits)
        with session.no_autoflush:  # a rendered chart stays unwritten: no write lock held while the API is called
            sends = outbox.recent_sends(session, channel=channel.name, recipient=recipient,
                                        group=bool(row.chat_id), since=now - longest,
                                        claimed_after=now - longest - STALE_SENDING)
        rooms = [_room_at([s for s in sends if s[0] > now - window], needed, window, limit, now)
                 for window, limit in limits]
        room_at = max((room for room in rooms if room is not None), default=None)
        if room_at is None:
            return False
        if _foldable(row, needed):
            self._fold(session, row, channel.name, recipient, address, room_at)
        else:
            outbox.mark_waiting(session, row, next_attempt_at=room_at)
        return True

    def _fold(self, session: Session, row: Outbox, channel: str, recipient: str, address: str | None,
              room_at: datetime) -> None:
        """Into this recipient's open digest (rewritten only while still pending), else a new one due at `room_at`."""
        assert row.id is not None
        prefix = f"{DIGEST_PREFIX}{channel}:{recipient}:"
        item = _digest_item(row)
        digest = outbox.pending_with_prefix(session, prefix)
        if digest is not None and outbox.replace_pending_payload(session, digest.id,
                                                                 _with_item(digest.payload, row.id, item)):
            digest_id = digest.id
        else:
            digest_id = outbox.enqueue(
                session, dedupe_key=f"{prefix}{row.id}", kind="text", payload=_with_item({}, row.id, item),
                now=self.clock.now(), due_at=room_at, channel=channel, user_id=row.user_id,
                platform_user=None if row.chat_id else address, chat_id=row.chat_id,
            )
        row.status = "folded"
        row.platform_ref = f"digest:{digest_id}"
        session.add(row)
        log.info("outbox %s folded into digest %s for %s:%s", row.id, digest_id, channel, recipient)

    def _failed(self, session: Session, row: Outbox, channel_name: str, exc: DeliveryError) -> None:
        row.status = "pending"
        if exc.retry_after is not None and not exc.permanent:  # a rate limit: later, without spending an attempt
            until = self.clock.now() + timedelta(seconds=exc.retry_after)
            if isinstance(exc, APP_WIDE_LIMITS):
                self._paused[channel_name] = until
            outbox.mark_waiting(session, row, next_attempt_at=until, error=str(exc))
            self.metrics.outbox_retried.labels(channel_name).inc()
            return
        if exc.permanent or row.attempts + 1 >= self.max_attempts:
            outbox.mark_failed(session, row, error=str(exc))
            self.metrics.outbox_failed.labels(channel_name).inc()
            log.warning("outbox %s failed for good after %s attempts: %s", row.id, row.attempts, exc)
            return
        retry_at = self.clock.now() + outbox.backoff(row.attempts + 1)
        outbox.mark_retry(session, row, error=str(exc), next_attempt_at=retry_at)
        self.metrics.outbox_retried.labels(channel_name).inc()


def _refused_replacement(row: Outbox) -> bool:
    """Turns a replacement the platform refused (a spent or expired card handle) into a new card, sent next."""
    if row.kind != "card_update" or "replaces" not in row.payload:
        return False
    row.kind = "card"
    row.payload = {key: value for key, value in row.payload.items() if key != "update_ref"}
    return True
