"""The outbox: messages owed to platforms, with dedupe keys, attempts and backoff."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlmodel import Session

from store.db import insert_ignoring_conflict
from store.models import Outbox

WITHDRAWN = "cancelled"  # a status the dispatcher never picks up: taken back before anyone saw it
MESSAGES_SENT = "messages_sent"  # payload key: platform messages the last attempt sent (the throttle counts them)


def enqueue(
    session: Session,
    *,
    dedupe_key: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    due_at: datetime | None = None,
    channel: str | None = None,
    user_id: str | None = None,
    platform_user: str | None = None,
    chat_id: str | None = None,
) -> int | None:
    """Adds a message unless its dedupe key was ever used; returns the new id or None."""
    values = {
        "dedupe_key": dedupe_key,
        "kind": kind,
        "payload": payload,
        "channel": channel,
        "user_id": user_id,
        "platform_user": platform_user,
        "chat_id": chat_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": due_at or now,
        "created_at": now,
    }
    return insert_ignoring_conflict(session, Outbox, values, ["dedupe_key"])


def retime_queued(session: Session, *, created_at: datetime, due_at: datetime) -> int:
    """Pending rows queued as of `created_at` become due at `due_at`: a sweep run by hand as of another instant."""
    result = session.execute(
        update(Outbox).where(Outbox.created_at == created_at, Outbox.status == "pending")
        .values(next_attempt_at=due_at).execution_options(synchronize_session=False)
    )
    return result.rowcount


def due(session: Session, *, now: datetime, limit: int = 50, channel: str | None = None) -> list[Outbox]:
    """Pending rows whose time has come, locked for this transaction on PostgreSQL."""
    stmt = (
        select(Outbox)
        .where(Outbox.status == "pending", Outbox.next_attempt_at <= now)
        .order_by(Outbox.next_attempt_at, Outbox.id)
        .limit(limit)
    )
    if channel is not None:
        stmt = stmt.where(Outbox.channel == channel)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.execute(stmt).scalars())


def mark_sent(session: Session, row: Outbox, *, now: datetime, platform_ref: str | None, messages: int = 0) -> None:
    if messages:
        row.payload = {**row.payload, MESSAGES_SENT: messages}
    row.status = "sent"
    row.attempts += 1
    row.sent_at = now
    row.platform_ref = platform_ref
    row.last_error = None
    session.add(row)


def mark_partly_sent(session: Session, row: Outbox, *, now: datetime, messages: int) -> None:
    """Some of a row's parts went out before a failure: `sent_at` and the count let the throttle see them."""
    row.sent_at = now
    row.payload = {**row.payload, MESSAGES_SENT: messages}
    session.add(row)


def mark_retry(session: Session, row: Outbox, *, error: str, next_attempt_at: datetime) -> None:
    row.attempts += 1
    row.last_error = error[:2000]
    row.next_attempt_at = next_attempt_at
    session.add(row)


def mark_waiting(session: Session, row: Outbox, *, next_attempt_at: datetime, error: str | None = None) -> None:
    """Back to pending without spending an attempt: the platform said "later", not "failed"."""
    row.status = "pending"
    row.next_attempt_at = next_attempt_at
    if error is not None:
        row.last_error = error[:2000]
    session.add(row)


def recent_sends(
    session: Session, *, channel: str, recipient: str, group: bool, since: datetime, claimed_after: datetime
) -> list[tuple[datetime, int]]:
    """(sent_at, messages) of rows sent, wholly or in part, to one member or group since `since`, oldest first.

    `claimed_after` bounds the indexed `next_attempt_at` (the claim time before `sent_at`, or a later retry)."""
    who = Outbox.chat_id == recipient if group else and_(Outbox.chat_id.is_(None), Outbox.platform_user == recipient)  # type: ignore[union-attr]
    stmt = (
        select(Outbox.sent_at, Outbox.payload)
        .where(Outbox.channel == channel, who, Outbox.next_attempt_at > claimed_after,
               Outbox.sent_at > since)  # type: ignore[operator]
        .order_by(Outbox.sent_at)
    )
    return [(at, int(payload.get(MESSAGES_SENT, 0))) for at, payload in session.execute(stmt)
            if payload.get(MESSAGES_SENT)]


def mark_failed(session: Session, row: Outbox, *, error: str) -> None:
    row.attempts += 1
    row.last_error = error[:2000]
    row.status = "failed"
    session.add(row)


def backoff(attempts: int, *, base_seconds: float = 5, cap_seconds: float = 3600) -> timedelta:
    """Exponential backoff after the `attempts`-th failure: 5 s, 10 s, 20 s … capped at an hour."""
    return timedelta(seconds=min(cap_seconds, base_seconds * 2 ** max(attempts - 1, 0)))


def pending_count(session: Session) -> int:
    return int(session.execute(select(func.count()).where(Outbox.status == "pending")).scalar_one())


def pending_with_prefix(session: Session, prefix: str) -> Outbox | None:
    """The oldest still-pending row whose dedupe key starts with `prefix` (a batch still open for merging).

    Locked on PostgreSQL until the caller commits: two writers merging into one batch would otherwise each
    rewrite the payload they read, and the first one's item would be lost."""
    stmt = (
        select(Outbox)
        .where(Outbox.status == "pending", Outbox.dedupe_key.startswith(prefix, autoescape=True))  # type: ignore[attr-defined]
        .order_by(Outbox.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.execute(stmt).scalars().first()


def replace_pending_payload(session: Session, row_id: int, payload: dict[str, Any]) -> bool:
    """Rewrites a row's payload only while it is still pending; False if the dispatcher took it meanwhile."""
    result = session.execute(
        update(Outbox).where(Outbox.id == row_id, Outbox.status == "pending").values(payload=payload)
    )
    return result.rowcount == 1


def by_key(session: Session, dedupe_key: str) -> Outbox | None:
    stmt = select(Outbox).where(Outbox.dedupe_key == dedupe_key).execution_options(populate_existing=True)
    return session.execute(stmt).scalars().first()


def withdraw_pending(session: Session, dedupe_keys: list[str], *, reason: str) -> int:
    """Takes back messages nobody has seen yet (still pending); those the dispatcher took are left alone."""
    result = session.execute(update(Outbox).where(Outbox.dedupe_key.in_(dedupe_keys), Outbox.status == "pending")
                             .values(status=WITHDRAWN, last_error=reason).execution_options(synchronize_session=False))
    return result.rowcount
