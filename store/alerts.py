"""Alerts: warnings raised for a person, deduplicated by key, resolved once."""

from __future__ import annotations

from sqlmodel import Session, select

from store.models import Alert


def exists(session: Session, dedupe_key: str) -> bool:
    return session.exec(select(Alert.id).where(Alert.dedupe_key == dedupe_key)).first() is not None
