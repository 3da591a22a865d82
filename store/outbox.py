"""The outbox: messages owed to platforms, with dedupe keys, attempts and backoff."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session

from store.db import insert_ignoring_conflict
from store.models import Outbox


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


def mark_sent(session: Session, row: Outbox, *, now: datetime, platform_ref: str | None) -> None:
    row.status = "sent"
    row.attempts += 1
    row.sent_at = now
    row.platform_ref = platform_ref
    row.last_error = None
    session.add(row)


def mark_retry(session: Session, row: Outbox, *, error: str, next_attempt_at: datetime) -> None:
    row.attempts += 1
    row.last_error = error[:2000]
    row.next_attempt_at = next_attempt_at
    session.add(row)


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
    """The oldest still-pending row whose dedupe key starts with `prefix` (a batch still open for merging)."""
    stmt = (
        select(Outbox)
        .where(Outbox.status == "pending", Outbox.dedupe_key.startswith(prefix, autoescape=True))  # type: ignore[attr-defined]
        .order_by(Outbox.id)
        .limit(1)
    )
    return session.execute(stmt).scalars().first()


def replace_pending_payload(session: Session, row_id: int, payload: dict[str, Any]) -> bool:
    """Rewrites a row's payload only while it is still pending; False if the dispatcher took it meanwhile."""
    result = session.execute(
        update(Outbox).where(Outbox.id == row_id, Outbox.status == "pending").values(payload=payload)
    )
    return result.rowcount == 1
