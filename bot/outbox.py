"""The dispatcher: the only code that calls platform APIs, one outbox row at a time."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session

from bot import charts
from bot.channels.base import Channel, DeliveryError
from bot.clock import Clock
from bot.metrics import Metrics
from store import outbox
from store.db import session_scope
from store.models import Outbox, User

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
STALE_SENDING = timedelta(minutes=5)

MESSAGES = {
    "no_channel": "收件人在已启用的渠道里都没有账号",
    "unknown_channel": "渠道未启用：{channel}",
}


def _render_chart(row: Outbox) -> None:
    """Charts are drawn here, once, so sweeps stay cheap and retries resend the same picture."""
    if row.kind != "image" or "chart" not in row.payload or "image_b64" in row.payload:
        return
    try:
        png = charts.render(row.payload["chart"])
    except charts.ChartError as exc:
        raise DeliveryError(str(exc), permanent=True) from exc
    row.payload = {**row.payload, "image_b64": base64.b64encode(png).decode("ascii")}


class Dispatcher:
    """Claims due rows, sends each through its channel, records the outcome with backoff."""

    def __init__(
        self, engine: Engine, channels: Mapping[str, Channel], clock: Clock, metrics: Metrics,
        *, max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.engine = engine
        self.channels = channels
        self.clock = clock
        self.metrics = metrics
        self.max_attempts = max_attempts

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
            try:
                channel, address = self._route(session, row)
                channel_name = channel.name
                _render_chart(row)
                ref = channel.deliver(session, row, address)
            except DeliveryError as exc:
                self._failed(session, row, channel_name, exc)
                return True
            except Exception as exc:  # an adapter bug must not lose the message
                log.exception("outbox %s: unexpected error from %s", row_id, channel_name)
                self._failed(session, row, channel_name, DeliveryError(f"{type(exc).__name__}: {exc}"))
                return True
            outbox.mark_sent(session, row, now=self.clock.now(), platform_ref=ref)
            self.metrics.outbox_sent.labels(channel_name).inc()
            return True

    def _failed(self, session: Session, row: Outbox, channel_name: str, exc: DeliveryError) -> None:
        row.status = "pending"
        if exc.permanent or row.attempts + 1 >= self.max_attempts:
            outbox.mark_failed(session, row, error=str(exc))
            self.metrics.outbox_failed.labels(channel_name).inc()
            log.warning("outbox %s failed for good after %s attempts: %s", row.id, row.attempts, exc)
            return
        delay = (
            timedelta(seconds=exc.retry_after) if exc.retry_after is not None else outbox.backoff(row.attempts + 1)
        )
        outbox.mark_retry(session, row, error=str(exc), next_attempt_at=self.clock.now() + delay)
        self.metrics.outbox_retried.labels(channel_name).inc()
