"""A row's platform messages: long text cut to the platform's size limit, and sending the parts so that a retry
skips the ones already accepted."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlmodel import Session

from bot.channels.base import DeliveryError
from store.models import Outbox

Prefix = Callable[[str, int], str]
Step = Callable[[], str]
PROGRESS = "sent_refs"  # payload key: platform refs of the parts already delivered, in order


def utf8_prefix(text: str, limit: int) -> str:
    """The longest start of `text` within `limit` UTF-8 bytes (a cut character is dropped, never half-sent)."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def char_prefix(text: str, limit: int) -> str:
    return text[:limit]


def _cuts(text: str, limit: int, prefix: Prefix) -> list[str]:
    """`text` in consecutive slices within `limit`, each ending after a line break when one is in its second half."""
    pieces: list[str] = []
    rest = text
    while (cut := prefix(rest, limit)) != rest:
        cut = cut or rest[:1]  # a limit below one character still makes progress
        newline = cut.rfind("\n")
        if newline >= len(cut) // 2:
            cut = cut[: newline + 1]
        pieces.append(cut)
        rest = rest[len(cut) :]
    pieces.append(rest)
    return pieces


def split_text(text: str, limit: int, prefix: Prefix = utf8_prefix) -> list[str]:
    """Pieces within `limit` (bytes by default), in order, without the line breaks they were cut at."""
    return [piece.strip("\n") for piece in _cuts(text, limit, prefix) if piece.strip("\n")]


def head_and_tail(text: str, limit: int, parts: int, prefix: Prefix = utf8_prefix) -> tuple[str, str]:
    """`text` cut where its first `parts` pieces end, for a message too long for one minute's allowance."""
    cut = sum(len(piece) for piece in _cuts(text, limit, prefix)[:parts])
    return text[:cut], text[cut:]


def remaining(message: Outbox, steps: Sequence[Step]) -> int:
    """How many platform messages this row still owes."""
    return max(len(steps) - len(message.payload.get(PROGRESS, [])), 0)


def send_parts(session: Session, message: Outbox, steps: Sequence[Step]) -> list[str]:
    """Runs the steps not yet done; on a failure the refs of the parts that went out are kept on the row."""
    refs: list[str] = list(message.payload.get(PROGRESS, []))
    try:
        for step in steps[len(refs) :]:
            refs.append(step())
    except DeliveryError:
        if refs:
            message.payload = {**message.payload, PROGRESS: refs}
            session.add(message)
        raise
    return refs
