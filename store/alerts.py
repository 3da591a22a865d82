"""Alerts: warnings raised for a person, deduplicated by key, resolved once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from store.db import insert_ignoring_conflict, insert_many_ignoring_conflict
from store.models import Alert


def exists(session: Session, dedupe_key: str) -> bool:
    return session.exec(select(Alert.id).where(Alert.dedupe_key == dedupe_key)).first() is not None


def raise_alert(session: Session, **values: Any) -> int | None:
    """Inserts unless the dedupe key exists (two sweeps racing stay harmless); returns the new id or None."""
    return insert_ignoring_conflict(session, Alert, values, ["dedupe_key"])


KEYS_PER_QUERY = 1000  # stays under every driver's bound-parameter limit


def raise_many(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Batched `raise_alert`; returns the dedupe keys that were new.

    A settled sweep finds the same items again and again: reading which keys exist is much cheaper than
    attempting their inserts. The insert still ignores conflicts, so two sweeps racing stay harmless.
    """
    keys = [row["dedupe_key"] for row in rows]
    known: set[str] = set()
    for start in range(0, len(keys), KEYS_PER_QUERY):
        chunk = keys[start:start + KEYS_PER_QUERY]
        known.update(session.exec(select(Alert.dedupe_key).where(col(Alert.dedupe_key).in_(chunk))))
    fresh = [row for row in rows if row["dedupe_key"] not in known]
    return set(insert_many_ignoring_conflict(session, Alert, fresh, ["dedupe_key"], returning="dedupe_key"))


def resolve(session: Session, alert_ids: list[int], *, at: datetime, by: str) -> int:
    result = session.execute(
        update(Alert).where(Alert.id.in_(alert_ids), Alert.resolved_at.is_(None)).values(resolved_at=at, resolved_by=by)
    )
    return result.rowcount


def resolve_for_opportunity(session: Session, opportunity_id: int, kinds: tuple[str, ...], *, at: datetime,
                            by: str) -> int:
    result = session.execute(
        update(Alert)
        .where(Alert.opportunity_id == opportunity_id, Alert.kind.in_(kinds), Alert.resolved_at.is_(None))
        .values(resolved_at=at, resolved_by=by)
    )
    return result.rowcount


def latest_open(session: Session, opportunity_id: int, kind: str) -> Alert | None:
    return session.exec(
        select(Alert).where(Alert.opportunity_id == opportunity_id, Alert.kind == kind, Alert.resolved_at.is_(None))
        .order_by(Alert.id.desc())
    ).first()
