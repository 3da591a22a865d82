"""The local channel: the web simulator's chat log stands in for a platform."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.channels.base import DeliveryError
from bot.clock import Clock
from store.models import Outbox, SimMessage, User

MESSAGES = {"no_card": "要更新的卡片不存在：{ref}"}


class LocalChannel:
    name = "local"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def address_of(self, user: User) -> str | None:
        return user.id

    def ref_of(self, sent: Outbox, now: datetime) -> str | None:
        """The simulator's chat line of the message, which can always be redrawn."""
        return sent.platform_ref

    def deliver(self, session: Session, message: Outbox, address: str | None) -> str | None:
        if message.kind == "card_update":
            ref = message.payload.get("update_ref")
            shown = session.get(SimMessage, int(ref)) if ref and str(ref).isdigit() else None
            if shown is None:
                raise DeliveryError(MESSAGES["no_card"].format(ref=ref), permanent=True)
            shown.payload = {**message.payload, "updated": True}
            session.add(shown)
            return str(shown.id)
        row = SimMessage(
            user_id=address, chat_id=message.chat_id, direction="out", kind=message.kind,
            payload=message.payload, at=self.clock.now(),
        )
        session.add(row)
        session.flush()
        return str(row.id)
