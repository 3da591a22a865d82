"""How sweeps hand pushes to people: quiet hours respected, many items for one person folded into one digest."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.cards import Button, Card, Reply, queue
from rules.notify import delivery_time
from rules.schema import NotifyFile

DIGEST_MAX_LINES = 20

TEXT = {
    "digest_title": "{title}（{n} 条）",
    "more": "……另有 {n} 条",
    "expand": "逐条处理",
}


@dataclass(frozen=True)
class Push:
    """One thing due for one person: its own card, and its line in a digest."""

    recipient: str
    dedupe_key: str
    card: Card
    line: str


def deliver(session: Session, pushes: list[Push], *, at: datetime, tz: ZoneInfo, notify: NotifyFile,
            digest_title: str) -> int:
    """Queues the pushes (held through quiet hours); returns how many outbox rows were written."""
    due_at = delivery_time(at, tz, notify)
    by_person: dict[str, list[Push]] = defaultdict(list)
    for push in pushes:
        by_person[push.recipient].append(push)
    written = 0
    for person, items in by_person.items():
        if len(items) < notify.digest_from:
            for item in items:
                written += _queue(session, Reply.show(item.card, to_user=person), item.dedupe_key, at, due_at)
            continue
        written += _queue(session, Reply.show(_digest(items, digest_title), to_user=person),
                          "digest:" + _digest_key(items), at, due_at)
    return written


def _digest(items: list[Push], title: str) -> Card:
    lines = [item.line for item in items[:DIGEST_MAX_LINES]]
    if len(items) > DIGEST_MAX_LINES:
        lines.append(TEXT["more"].format(n=len(items) - DIGEST_MAX_LINES))
    return Card(
        title=TEXT["digest_title"].format(title=title, n=len(items)),
        lines=lines,
        buttons=[Button(TEXT["expand"], "digest:expand", {"cards": [item.card.to_dict() for item in items]},
                        style="primary")],
    )


def _digest_key(items: list[Push]) -> str:
    joined = "|".join(sorted(item.dedupe_key for item in items))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:32]


def _queue(session: Session, reply: Reply, dedupe_key: str, at: datetime, due_at: datetime) -> int:
    return 1 if queue(session, reply, dedupe_key=dedupe_key, now=at, due_at=due_at) else 0
