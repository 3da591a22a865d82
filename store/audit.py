"""The audit log: who did or read what, when. Rows carry ids and kinds, never customer content,
so a purge (store.privacy) leaves the fact without the personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from store.access import is_audited
from store.models import AuditLog, User

READ = "customer.read"


def record(session: Session, *, at: datetime, actor: str, action: str, target: str | None = None,
           detail: dict[str, Any] | None = None) -> None:
    session.add(AuditLog(at=at, actor=actor, action=action, target=target, detail=detail or {}))


def customer(customer_id: int | None) -> str:
    """The target of a row about one customer; `store.privacy` scrubs rows by it."""
    return f"customer:{customer_id}"


def opportunity(opportunity_id: int | None) -> str:
    return f"opportunity:{opportunity_id}"


def read(session: Session, viewer: User, *, at: datetime, target: str, via: str, **ids: Any) -> None:
    """A manager's (or admin's) read of customer data; a rep reading their own is not audited."""
    if is_audited(viewer):
        record(session, at=at, actor=viewer.id, action=READ, target=target, detail={"via": via, **ids})
