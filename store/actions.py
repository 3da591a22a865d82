"""Card-button tokens: minted when a card is queued, resolved and spent when a button is clicked."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from store.models import CardAction


def new_card_id() -> str:
    return secrets.token_urlsafe(12)


def mint(
    session: Session,
    *,
    card_id: str,
    user_id: str | None,
    action: str,
    data: dict[str, Any],
    now: datetime,
    ttl: timedelta,
) -> str:
    token = secrets.token_urlsafe(18)
    session.add(
        CardAction(
            token=token, card_id=card_id, user_id=user_id, action=action, data=data,
            created_at=now, expires_at=now + ttl,
        )
    )
    return token


def lookup(session: Session, token: str) -> CardAction | None:
    return session.exec(select(CardAction).where(CardAction.token == token)).first()


def spend_card(session: Session, card_id: str, *, now: datetime) -> bool:
    """Marks every button of the card used; False if another click got there first."""
    result = session.execute(
        update(CardAction)
        .where(CardAction.card_id == card_id, CardAction.used_at.is_(None))
        .values(used_at=now)
    )
    return result.rowcount > 0
