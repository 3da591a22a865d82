"""The neutral inbound event, the handler context, and how handler modules declare their routes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.cards import Reply
from store.models import Dialog, User

if TYPE_CHECKING:
    from rules.loader import RuleSet

EventKind = Literal[
    "text", "link", "file", "image", "voice", "video", "location", "meeting", "menu_click", "card_action",
    "enter", "contact_change", "other",
]


@dataclass(frozen=True)
class Event:
    """One inbound thing, whatever the platform; `sender` is the platform's id for the person."""

    channel: str
    msg_id: str
    sender: str
    kind: EventKind
    received_at: datetime
    chat: str | None = None  # group conversation id; None in a 1:1 chat
    text: str = ""
    url: str | None = None
    filename: str | None = None
    media: str | None = None
    action: str | None = None  # menu key, or the opaque token of a clicked card button
    card_ref: str | None = None  # the platform's handle of the clicked card, for updating it
    payload: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Shallow (payload and raw are shared, not copied): it is serialised at once, on the acknowledge path."""
        data = {name: getattr(self, name) for name in _EVENT_FIELDS}
        data["received_at"] = self.received_at.isoformat()
        return data

    def storable(self) -> Event:
        """Without what no database column stores: NUL (PostgreSQL refuses it) and lone surrogates (no codec
        encodes them). Chat JSON can carry both, and an event that cannot be stored is an event lost."""
        changed = {name: _storable(getattr(self, name)) for name in _TEXT_FIELDS
                   if isinstance(getattr(self, name), str) and _UNSTORABLE.search(getattr(self, name))}
        return replace(self, **changed) if changed else self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        values = dict(data)
        values["received_at"] = datetime.fromisoformat(values["received_at"])
        return cls(**values)


_EVENT_FIELDS = tuple(f.name for f in fields(Event))
_TEXT_FIELDS = ("msg_id", "sender", "chat", "text", "url", "filename", "media", "action", "card_ref")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(text: str) -> str:
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def stable_msg_id(*parts: object) -> str:
    """For platform events that carry no id: the same event redelivered hashes the same."""
    return "h:" + hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:40]


@dataclass(frozen=True)
class CommandInfo:
    word: str
    usage: str
    help: str


@dataclass
class Context:
    """Everything a handler may use; handlers read and write the store only through `session`."""

    session: Session
    user: User
    now: datetime
    tz: ZoneInfo
    rules: RuleSet
    commands: Sequence[CommandInfo]
    dialog: Dialog | None = None
    args: str = ""  # the text after the command word
    modules: frozenset[str] = frozenset()  # enabled capabilities, for steps that belong to another module
    action_data: dict[str, Any] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()


Handler = Callable[[Event, Context], "Reply | list[Reply] | None"]
RouteKind = Literal["command", "action", "kind", "flow"]


@dataclass(frozen=True)
class Route:
    """One way into a handler: a command word (also its menu key), an action prefix, an event kind or a dialog flow."""

    kind: RouteKind
    key: str
    handler: Handler
    usage: str = ""
    help: str = ""


RUN = "command"  # the card action that runs data's `command` with its `args` as if typed (its module must be enabled)


def on_command(word: str, handler: Handler, *, usage: str = "", help: str = "") -> Route:
    return Route("command", word, handler, usage or word, help)


def on_action(prefix: str, handler: Handler) -> Route:
    return Route("action", prefix, handler)


def on_kind(kind: EventKind, handler: Handler) -> Route:
    return Route("kind", kind, handler)


def on_flow(flow: str, handler: Handler) -> Route:
    return Route("flow", flow, handler)
