"""Channel-agnostic cards and replies, and queueing them into the outbox (buttons become tokens)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session

from store import actions, outbox

CARD_TTL = timedelta(days=7)

ReplyKind = Literal["text", "markdown", "card", "image", "card_update"]


@dataclass
class Button:
    label: str
    action: str  # router prefix, e.g. "help:again"; never shown to the client
    data: dict[str, Any] = field(default_factory=dict)
    style: Literal["primary", "default", "danger"] = "default"


@dataclass
class Card:
    title: str
    lines: list[str] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    link: tuple[str, str] | None = None  # (label, url or `dash:PAGE`, signed for the recipient when delivered)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Server-side form (button actions in clear), for keeping a card to send again later."""
        return {
            "title": self.title, "lines": list(self.lines), "fields": [list(f) for f in self.fields],
            "buttons": [{"label": b.label, "action": b.action, "data": b.data, "style": b.style}
                        for b in self.buttons],
            "link": list(self.link) if self.link else None, "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Card:
        return cls(
            title=data["title"], lines=list(data["lines"]), fields=[(k, v) for k, v in data["fields"]],
            buttons=[Button(b["label"], b["action"], dict(b["data"]), b["style"]) for b in data["buttons"]],
            link=(data["link"][0], data["link"][1]) if data["link"] else None, note=data["note"],
        )


@dataclass
class Reply:
    """What a handler or sweep wants said; `to_user` is our user id, `to_chat` a group id."""

    kind: ReplyKind
    text: str = ""
    card: Card | None = None
    image: bytes | None = None
    chart: dict[str, Any] | None = None  # rendered to a PNG by the dispatcher (bot.charts), not by sweeps
    to_user: str | None = None
    to_chat: str | None = None
    replaces: int | None = None  # card_update of an earlier outbox message rather than of a clicked card

    @classmethod
    def say(cls, text: str, **kw: Any) -> Reply:
        return cls(kind="text", text=text, **kw)

    @classmethod
    def markdown(cls, text: str, **kw: Any) -> Reply:
        return cls(kind="markdown", text=text, **kw)

    @classmethod
    def show(cls, card: Card, **kw: Any) -> Reply:
        return cls(kind="card", card=card, **kw)

    @classmethod
    def picture(cls, chart: dict[str, Any], **kw: Any) -> Reply:
        return cls(kind="image", chart=chart, **kw)

    @classmethod
    def update(cls, card: Card) -> Reply:
        """Turns the card that was clicked into its answered state."""
        return cls(kind="card_update", card=card)

    @classmethod
    def replace(cls, card: Card, *, outbox_id: int, to_user: str) -> Reply:
        """Redraws a card we sent earlier (nobody clicked it): in place where the platform still allows, else the
        new card is sent as a message of its own (the dispatcher decides, bot.outbox)."""
        return cls(kind="card_update", card=card, to_user=to_user, replaces=outbox_id)


def render_card(card: Card, tokens: list[str]) -> dict[str, Any]:
    """The client-side form: button actions replaced by tokens; a `dash:PAGE` link stays unsigned until sent."""
    return {
        "title": card.title,
        "lines": list(card.lines),
        "fields": [list(pair) for pair in card.fields],
        "buttons": [
            {"label": b.label, "key": token, "style": b.style} for b, token in zip(card.buttons, tokens, strict=True)
        ],
        "link": list(card.link) if card.link else None,
        "note": card.note,
    }


def payload_of(session: Session, reply: Reply, *, recipient: str | None, now: datetime) -> dict[str, Any]:
    """The outbox payload; card buttons are minted as opaque tokens bound to the recipient."""
    if reply.kind in ("card", "card_update"):
        assert reply.card is not None
        card_id = actions.new_card_id()
        tokens = [
            actions.mint(
                session, card_id=card_id, user_id=recipient, action=b.action, data=b.data, now=now, ttl=CARD_TTL
            )
            for b in reply.card.buttons
        ]
        return {"card": render_card(reply.card, tokens), "card_id": card_id}
    if reply.kind == "image" and reply.chart is not None:
        return {"chart": reply.chart, "text": reply.text}
    if reply.kind == "image":
        assert reply.image is not None
        return {"image_b64": base64.b64encode(reply.image).decode("ascii"), "text": reply.text}
    return {"text": reply.text}


def queue(
    session: Session,
    reply: Reply,
    *,
    dedupe_key: str,
    now: datetime,
    channel: str | None = None,
    platform_user: str | None = None,
    update_ref: str | None = None,
    due_at: datetime | None = None,
) -> int | None:
    """Writes the reply into the outbox in the caller's transaction; a used dedupe key is a no-op."""
    payload = payload_of(session, reply, recipient=reply.to_user, now=now)
    if update_ref is not None:
        payload["update_ref"] = update_ref
    if reply.replaces is not None:
        payload["replaces"] = reply.replaces
    return outbox.enqueue(
        session,
        dedupe_key=dedupe_key,
        kind=reply.kind,
        payload=payload,
        now=now,
        due_at=due_at,
        channel=channel,
        user_id=reply.to_user,
        platform_user=platform_user,
        chat_id=reply.to_chat,
    )
