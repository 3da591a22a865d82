"""Touch capture: every customer-facing action that reaches us becomes a Touch, linked to a customer, counted once."""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.cards import Button, Card, Reply
from bot.events import Context, Event, Route, on_action, on_kind
from handlers import customers
from handlers.groups import private_routes
from rules.loader import RuleSet
from rules.touches import Sighting, Verdict, classify, fingerprints
from scheduler import health
from store import outbox
from store.models import ChatBinding, Customer, Opportunity, Touch, User
from store.opportunities import record_update

TEXT = {
    "ack": "已记录有效触达：{customer} · {items}",
    "ask_title": "这条记录关联哪个客户？",
    "ask_line": "{label}{detail}",
    "none": "都不是",
    "unlinked": "好的，这条记录暂不关联客户。",
    "noted": "已作为备注记入「{customer}」。",
    "noted_nowhere": "已作为备注留存（没有关联客户）。",
    "visited": "已记录拜访：{customer}。",
    "not_understood": "没听懂「{text}」。发送「帮助」查看可用命令。",
    "gone": "这条记录已不存在，或不是您的。",
}

ACK_KEY = "touch_ack:{rep}:{customer}:"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ASK_CANDIDATES = 4
PLATFORM_OF_SOURCE = {"archive": "wecom"}  # archived chats are WeCom chats; their bindings are WeCom's


@dataclass(frozen=True)
class Origin:
    """Where an action was seen: `source` is the channel or `archive`; `at` the time it happened."""

    source: str
    msg_id: str
    at: datetime
    chat: str | None = None


@dataclass(frozen=True)
class Captured:
    verdict: Verdict
    touch: Touch | None  # None: a duplicate, or a plain message no customer could be found for
    customer: Customer | None = None
    linked_by: str | None = None  # chat | mention | context
    duplicate: bool = False


def _chat_customer(session: Session, origin: Origin) -> Customer | None:
    if not origin.chat:
        return None
    platform = PLATFORM_OF_SOURCE.get(origin.source, origin.source)
    binding = session.exec(select(ChatBinding).where(ChatBinding.channel == platform,
                                                     ChatBinding.chat_id == origin.chat)).first()
    return session.get(Customer, binding.customer_id) if binding else None


def context_customer(session: Session, rules: RuleSet, user: User, at: datetime) -> Customer | None:
    """The customer the rep last worked on (a linked touch or an update of their opportunity) within N hours."""
    since = at - timedelta(hours=rules.touches.context_hours)
    touch = session.exec(
        select(Touch).where(Touch.rep_id == user.id, col(Touch.customer_id).is_not(None), Touch.at >= since)
        .order_by(col(Touch.at).desc())
    ).first()
    opportunity = session.exec(
        select(Opportunity).where(Opportunity.owner_id == user.id, Opportunity.last_update_at >= since)
        .order_by(col(Opportunity.last_update_at).desc())
    ).first()
    latest = sorted([(t.at, t.customer_id) for t in (touch,) if t]
                    + [(o.last_update_at, o.customer_id) for o in (opportunity,) if o])
    return session.get(Customer, latest[-1][1]) if latest else None


def _link(session: Session, rules: RuleSet, user: User, sighting: Sighting, origin: Origin,
          *, use_context: bool) -> tuple[Customer | None, str | None]:
    bound = _chat_customer(session, origin)
    if bound is not None:
        return bound, "chat"
    words = " ".join(filter(None, (sighting.text, sighting.title, sighting.filename)))
    named = customers.mentioned(session, user, words) if words else None
    if named is not None:
        return named, "mention"
    recent = context_customer(session, rules, user, origin.at) if use_context else None
    return (recent, "context") if recent else (None, None)


def capture(session: Session, rules: RuleSet, *, user: User, sighting: Sighting, origin: Origin,
            now: datetime, health_tz: ZoneInfo | None = None) -> Captured:
    """Classifies, dedupes (fingerprint: rep + content + minute), links and stores one action.

    Plain messages are kept only when a chat binding or a mention ties them to a customer;
    valid touches and files are always kept, linked later if need be. `health_tz`: see `link_touch`.
    """
    verdict = classify(sighting, rules.touches)
    fingerprint, neighbours = fingerprints(user.id, verdict, sighting, origin.at)
    if session.exec(select(Touch.id).where(col(Touch.fingerprint).in_(neighbours))).first() is not None:
        return Captured(verdict, None, duplicate=True)
    plain = verdict.kind == "message"
    customer, linked_by = _link(session, rules, user, sighting, origin, use_context=not plain)
    if plain and customer is None:
        return Captured(verdict, None)
    touch = Touch(
        rep_id=user.id, kind=verdict.kind, valid=verdict.valid, at=origin.at, source=origin.source,
        source_msg_id=origin.msg_id, fingerprint=fingerprint, url=verdict.url, filename=verdict.filename,
        evidence={k: v for k, v in {"text": (sighting.text or "")[:500], "title": sighting.title,
                                    "chat": origin.chat, "linked_by": linked_by}.items() if v},
    )
    session.add(touch)
    session.flush()
    if customer is not None:
        link_touch(session, rules, touch, customer, user=user, now=now, ack_channel=_ack_channel(origin),
                   health_tz=health_tz)
    return Captured(verdict, touch, customer, linked_by)


def _ack_channel(origin: Origin) -> str | None:
    return None if origin.source in PLATFORM_OF_SOURCE else origin.source


def link_touch(session: Session, rules: RuleSet, touch: Touch, customer: Customer, *, user: User,
               now: datetime, ack_channel: str | None, acknowledge: bool = True,
               health_tz: ZoneInfo | None = None) -> None:
    """Ties the touch to the customer (and its open opportunity); a valid one resets the stage clock and is acked.

    With `health_tz` (the health module is on; pushes keep quiet hours in that zone) a valid touch rescores the
    opportunity at once, so a rep who just acted is not warned about it tonight.
    """
    opportunity = customers.open_opportunity(session, customer)
    touch.customer_id, touch.opportunity_id = customer.id, opportunity.id if opportunity else None
    session.add(touch)
    if not touch.valid:
        return
    if opportunity and rules.stages.valid_touch_resets_clock and touch.at > opportunity.last_update_at:
        record_update(session, opportunity, at=touch.at, by=user.id)
    if acknowledge:
        queue_ack(session, rules, user=user, customer=customer, touch=touch, now=now, channel=ack_channel)
    if opportunity and opportunity.id is not None and health_tz is not None:
        health.recompute(session, opportunity.id, now, rules, health_tz)


def _ack_text(customer: str, labels: list[str]) -> str:
    counts = Counter(labels)
    items = "、".join(label if n == 1 else f"{label}×{n}" for label, n in counts.items())
    return TEXT["ack"].format(customer=customer, items=items)


def queue_ack(session: Session, rules: RuleSet, *, user: User, customer: Customer, touch: Touch, now: datetime,
              channel: str | None) -> None:
    """One acknowledgement per burst: merged into the rep's pending ack for this customer while it waits.

    The first valid touch opens a batch due `ack_delay_seconds` later (dedupe key
    `touch_ack:{rep}:{customer}:{first touch id}`); later ones rewrite its payload while it is still
    pending. Once the dispatcher has taken it, the next touch opens a new batch.
    """
    label = rules.touches.labels.get(touch.kind, touch.kind)
    prefix = ACK_KEY.format(rep=user.id, customer=customer.id)
    pending = outbox.pending_with_prefix(session, prefix)
    if pending is not None and pending.id is not None:
        labels = [*pending.payload.get("items", []), label]
        payload = {"text": _ack_text(customer.name, labels), "items": labels}
        if outbox.replace_pending_payload(session, pending.id, payload):
            return
    outbox.enqueue(
        session, dedupe_key=f"{prefix}{touch.id}", kind="text",
        payload={"text": _ack_text(customer.name, [label]), "items": [label]}, now=now,
        due_at=now + timedelta(seconds=rules.touches.ack_delay_seconds), channel=channel, user_id=user.id,
    )


def _candidates(session: Session, user: User) -> list[Customer]:
    """The customers the rep may use, most recently worked on first."""
    visible = customers.visible(session, user)
    recent = dict(session.exec(
        select(Opportunity.customer_id, func.max(Opportunity.last_update_at))
        .where(col(Opportunity.customer_id).in_([c.id for c in visible])).group_by(Opportunity.customer_id)
    ).all())
    return sorted(visible, key=lambda c: recent.get(c.id) or EPOCH, reverse=True)


def ask_customer(session: Session, rules: RuleSet, user: User, captured: Captured) -> Reply:
    """Sent to the rep alone, even when the action happened in a group."""
    assert captured.touch is not None
    detail = f"：{captured.verdict.filename or captured.verdict.url}" if (
        captured.verdict.filename or captured.verdict.url) else ""
    touch_id = captured.touch.id
    buttons = [Button(c.name, "touches:link", {"touch": touch_id, "customer": c.id})
               for c in _candidates(session, user)[:ASK_CANDIDATES]]
    return Reply.show(Card(
        title=TEXT["ask_title"],
        lines=[TEXT["ask_line"].format(label=captured.verdict.label(rules.touches), detail=detail)],
        buttons=buttons + [Button(TEXT["none"], "touches:unlinked", {"touch": touch_id})],
    ), to_user=user.id)


def _head(event: Event) -> bytes | None:
    raw = event.payload.get("head_b64")
    try:
        return base64.b64decode(raw, validate=True) if raw else None
    except (binascii.Error, ValueError):
        return None


def sighting_of(event: Event) -> Sighting:
    """The event as the classifier sees it; adapters may add `content_type` and `head_b64` to the payload."""
    return Sighting(
        kind=event.kind, text=event.text, url=event.url, title=event.payload.get("title"),
        filename=event.filename, content_type=event.payload.get("content_type"), head=_head(event),
    )


def _health_zone(ctx: Context) -> ZoneInfo | None:
    """The zone health pushes use, when the health module is on (its score then follows touches at once)."""
    return ctx.tz if "health" in ctx.modules else None


def on_message(event: Event, ctx: Context) -> list[Reply]:
    """A link, file, image, meeting or text sent to the bot (1:1 or in a group it is in)."""
    origin = Origin(source=event.channel, msg_id=event.msg_id, at=event.received_at, chat=event.chat)
    captured = capture(ctx.session, ctx.rules, user=ctx.user, sighting=sighting_of(event), origin=origin,
                       now=ctx.now, health_tz=_health_zone(ctx))
    if captured.touch is not None and captured.customer is None and captured.verdict.valid:
        return [ask_customer(ctx.session, ctx.rules, ctx.user, captured)]
    if event.chat is not None or captured.verdict.kind != "message" or captured.duplicate:
        return []
    if captured.customer is not None:
        return [Reply.say(TEXT["noted"].format(customer=captured.customer.name))]
    return [Reply.say(TEXT["not_understood"].format(text=event.text.strip()[:30]))] if event.text.strip() else []


def _own_touch(ctx: Context) -> Touch | None:
    touch = ctx.session.get(Touch, ctx.action_data.get("touch"))
    return touch if touch is not None and touch.rep_id == ctx.user.id else None


def link_answer(event: Event, ctx: Context) -> Reply:
    touch = _own_touch(ctx)
    customer = ctx.session.get(Customer, ctx.action_data.get("customer"))
    if touch is None or customer is None or not customers.can_see(ctx.session, ctx.user, customer):
        return Reply.say(TEXT["gone"])
    link_touch(ctx.session, ctx.rules, touch, customer, user=ctx.user, now=ctx.now, ack_channel=None,
               acknowledge=False, health_tz=_health_zone(ctx))
    if touch.valid:
        return Reply.say(_ack_text(customer.name, [ctx.rules.touches.labels.get(touch.kind, touch.kind)]))
    return Reply.say(TEXT["noted"].format(customer=customer.name))


def visit_done(event: Event, ctx: Context) -> Reply:
    """A visit the rep says already happened: one `visit` touch on the customer, told as a visit."""
    customer = ctx.session.get(Customer, ctx.action_data.get("customer"))
    if customer is None or not customers.can_see(ctx.session, ctx.user, customer):
        return Reply.say(TEXT["gone"])
    at = datetime.fromisoformat(ctx.action_data["at"]) if ctx.action_data.get("at") else event.received_at
    rules = ctx.rules.touches
    touch = Touch(rep_id=ctx.user.id, kind="visit", valid="visit" in rules.valid_kinds, at=at, source=event.channel,
                  source_msg_id=ctx.action_data.get("msg_id") or event.msg_id,
                  evidence={"text": str(ctx.action_data.get("text", event.text))[:500], "linked_by": "mention"})
    ctx.session.add(touch)
    ctx.session.flush()
    link_touch(ctx.session, ctx.rules, touch, customer, user=ctx.user, now=ctx.now, ack_channel=None,
               acknowledge=False, health_tz=_health_zone(ctx))
    return Reply.say(TEXT["visited"].format(customer=customer.name))


def note_answer(event: Event, ctx: Context) -> Reply:
    """「不是，记为备注」 on a confirming question: the message is kept as a plain note, and said to be one."""
    data = ctx.action_data
    origin = Origin(source=event.channel, msg_id=str(data.get("msg_id", event.msg_id)),
                    at=datetime.fromisoformat(data["at"]) if data.get("at") else event.received_at)
    captured = capture(ctx.session, ctx.rules, user=ctx.user, sighting=Sighting(kind="text", text=data.get("text", "")),
                       origin=origin, now=ctx.now, health_tz=_health_zone(ctx))
    if captured.customer is not None:
        return Reply.say(TEXT["noted"].format(customer=captured.customer.name))
    return Reply.say(TEXT["noted_nowhere"])


def unlinked_answer(event: Event, ctx: Context) -> Reply:
    return Reply.say(TEXT["unlinked"] if _own_touch(ctx) else TEXT["gone"])


ROUTES: list[Route] = private_routes([
    *(on_kind(kind, on_message) for kind in ("text", "link", "file", "image", "meeting")),
    on_action("touches:link", link_answer),
    on_action("touches:unlinked", unlinked_answer),
    on_action("touches:visit", visit_done),
    on_action("touches:note", note_answer),
])
