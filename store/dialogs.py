"""Dialog state (slot filling, draft editing) kept in the database so any process can continue it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, delete, select

from store.models import Dialog

DEFAULT_TTL = timedelta(minutes=30)


def active(session: Session, user_id: str, *, now: datetime) -> Dialog | None:
    dialog = session.exec(select(Dialog).where(Dialog.user_id == user_id)).first()
    if dialog is None or dialog.expires_at <= now:
        return None
    return dialog


def start(
    session: Session,
    *,
    user_id: str,
    flow: str,
    step: str,
    data: dict[str, Any],
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> Dialog:
    """Begins a flow, replacing whatever dialog the user had (one at a time per user)."""
    clear(session, user_id)
    dialog = Dialog(user_id=user_id, flow=flow, step=step, data=data, expires_at=now + ttl, updated_at=now)
    session.add(dialog)
    session.flush()
    return dialog


def advance(
    session: Session, dialog: Dialog, *, step: str, data: dict[str, Any], now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> None:
    dialog.step = step
    dialog.data = dict(data)
    dialog.expires_at = now + ttl
    dialog.updated_at = now
    session.add(dialog)


def clear(session: Session, user_id: str) -> bool:
    result = session.execute(delete(Dialog).where(Dialog.user_id == user_id))
    return result.rowcount > 0
