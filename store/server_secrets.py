"""Secrets the server makes for itself: generated once, kept in the database, the same for every process."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlmodel import Session

from store.db import insert_many_ignoring_conflict
from store.models import ServerSecret

LINK_SECRET = "link_secret"


def get_or_create(session: Session, name: str) -> str:
    """The stored secret `name`, generated on first use; two processes racing both read the one that won."""
    insert_many_ignoring_conflict(
        session, ServerSecret,
        [{"name": name, "value": secrets.token_urlsafe(32), "created_at": datetime.now(UTC)}],
        ["name"], returning="name",
    )
    row = session.get(ServerSecret, name)
    assert row is not None
    return row.value
