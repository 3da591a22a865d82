"""The inbox: one lean insert on the acknowledge path, then reads for processing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlmodel import Session

from store.db import insert_ignoring_conflict, insert_many_ignoring_conflict
from store.models import Message


def inbound_row(
    *,
    channel: str,
    msg_id: str,
    kind: str,
    received_at: datetime,
    event: dict[str, Any],
    sender: str | None = None,
    chat_id: str | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    """The column values of one inbound event."""
    return {
        "channel": channel,
        "msg_id": msg_id,
        "kind": kind,
        "received_at": received_at,
        "event": event,
        "sender": sender,
        "chat_id": chat_id,
        "text": text,
        "attempts": 0,
    }


def store_inbound(conn: Connection, **fields: Any) -> int | None:
    """Inserts the event unless (channel, msg_id) is already there; returns the new row id or None.

    Core, not the ORM: this runs before the platform gets its answer, so it stays one statement.
    """
    return insert_ignoring_conflict(conn, Message, inbound_row(**fields), ["channel", "msg_id"])


def store_inbound_many(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """A grouped commit of `inbound_row`s of one channel in one statement; returns the msg_ids that were new."""
    return set(insert_many_ignoring_conflict(conn, Message, rows, ["channel", "msg_id"], returning="msg_id"))


def store_inbound_committed(engine: Engine, **kwargs: Any) -> int | None:
    """`store_inbound` in its own committed transaction: the event is durable when this returns."""
    with engine.begin() as conn:
        return store_inbound(conn, **kwargs)


def unprocessed_ids(session: Session, *, max_attempts: int, limit: int = 100) -> list[int]:
    """Rows not yet processed (including those a crash left behind), oldest first."""
    stmt = (
        select(Message.id)
        .where(Message.processed_at.is_(None), Message.attempts < max_attempts)
        .order_by(Message.id)
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def claim(session: Session, message_id: int) -> Message | None:
    """Locks an unprocessed row for this transaction (PostgreSQL: skip rows another process holds)."""
    stmt = select(Message).where(Message.id == message_id, Message.processed_at.is_(None))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.execute(stmt).scalars().first()


def record_failure(session: Session, message_id: int, error: str) -> None:
    session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(attempts=Message.attempts + 1, last_error=error[:2000])
    )
