"""The small interface every channel adapter implements for the dispatcher."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from store.models import Outbox, User


class DeliveryError(Exception):
    """A failed send. `retry_after` overrides the backoff (rate limits); `permanent` stops retrying."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Channel(Protocol):
    name: str

    def address_of(self, user: User) -> str | None:
        """The user's id on this platform, or None when the user is not reachable here."""

    def deliver(self, session: Session, message: Outbox, address: str | None) -> str | None:
        """Sends one outbox row; returns the platform's reference (message id, card handle) if any."""

    def ref_of(self, sent: Outbox, now: datetime) -> str | None:
        """The handle that updates the card `sent` carried, unprompted, or None when the platform no longer
        allows it (not a card, handle expired or never given)."""
