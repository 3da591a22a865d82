"""WeCom's per-app daily cap (account seats × 200 member-messages a day): measured, and the admins warned near it.

WeCom does not tell an app its seat count; the active members we know on WeCom are a lower bound, so the cap
computed here is the strictest one that can apply and the warning comes early rather than late.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot import cards
from bot.cards import Reply
from bot.clock import Clock
from store import alerts, users
from store.models import Outbox, User
from store.outbox import MESSAGES_SENT

log = logging.getLogger(__name__)

PER_SEAT_PER_DAY = 200  # doc 90236 频率限制: 每应用不可超过账号上限数×200人次/天
WARN_AT = 0.8  # share of the cap at which the admins are warned, once a day
CHECK_EVERY = timedelta(minutes=5)  # a sum over today's rows: not on every send
CLAIM_TO_SEND = timedelta(minutes=10)  # longer than the dispatcher's STALE_SENDING (5 min)

TEXT = {
    "warning": "企业微信应用今天已发出 {sent} 人次消息，接近每日上限 {cap} 人次（账号数 {seats} × 200）。"
               "超过上限后企业微信会拒收，提醒会推迟到明天；请检查是否有异常的批量提醒。",
}


def sent_today(session: Session, *, since: datetime) -> int:
    """Member-messages WeCom accepted from this app since `since` (each message to one member counts once).

    A row is claimed (`next_attempt_at`, indexed) minutes at most before it is sent: that bound keeps the
    query off the rest of the table."""
    rows = session.exec(select(Outbox.payload).where(
        Outbox.channel == "wecom", col(Outbox.next_attempt_at) > since - CLAIM_TO_SEND, col(Outbox.sent_at) >= since))
    return sum(int(payload.get(MESSAGES_SENT, 0)) for payload in rows)


def seats(session: Session) -> int:
    found = session.exec(select(func.count()).select_from(User).where(
        col(User.wecom_userid).is_not(None), col(User.active).is_(True)))
    return int(found.one())


class DailyCap:
    """Checks today's usage at most every `CHECK_EVERY`; `sent` and `cap` are what /metrics shows."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sent = 0
        self.cap = 0
        self._checked_at: datetime | None = None

    def check(self, session: Session) -> None:
        """Never raises: it runs after a message went out, and a failure here must not make it be sent again."""
        try:
            self._check(session)
        except Exception:
            log.exception("WeCom daily cap check failed")

    def _check(self, session: Session) -> None:
        now = self.clock.now()
        if self._checked_at is not None and now - self._checked_at < CHECK_EVERY:
            return
        self._checked_at = now
        today = self.clock.today()
        count = seats(session)
        self.sent = sent_today(session, since=datetime.combine(today, time(0), tzinfo=self.clock.tz))
        self.cap = count * PER_SEAT_PER_DAY
        if not self.cap or self.sent < WARN_AT * self.cap:
            return
        key = f"wecom_daily_cap:{today.isoformat()}"
        message = TEXT["warning"].format(sent=self.sent, cap=self.cap, seats=count)
        if alerts.raise_alert(session, kind="wecom_daily_cap", level="warning", dedupe_key=key, message=message,
                              created_at=now) is None:
            return
        log.warning("%s", message)
        for admin in users.admins(session):
            cards.queue(session, Reply.say(message, to_user=admin.id), dedupe_key=f"{key}:admin:{admin.id}", now=now)
