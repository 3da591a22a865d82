"""Data protection: purging one customer's personal data, and ageing out raw chat text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from store import audit
from store.models import (
    AuditLog,
    ChatBinding,
    Checklist,
    CompanyEvent,
    Contact,
    Customer,
    FeedbackHit,
    Message,
    Opportunity,
    Todo,
    Touch,
)

PURGED_NAME = "已删除客户#{id}"


@dataclass(frozen=True)
class PurgeSummary:
    customer_id: int
    contacts: int
    touches: int
    feedback: int
    todos: int
    voice: int = 0


def purge_customer(session: Session, customer: Customer, *, actor: str, at: datetime) -> PurgeSummary:
    """Removes names, contacts, captured content and events; keeps amounts and stages for the books.

    The audit log records that a purge happened, by whom and when, never what was removed; earlier rows about
    the customer keep who did or read what and when, but lose their detail (a progress note is content).
    """
    cid = customer.id
    assert cid is not None
    voice = _purge_voice(session, customer)
    contacts = session.execute(delete(Contact).where(Contact.customer_id == cid)).rowcount
    touches = session.execute(
        update(Touch).where(Touch.customer_id == cid).values(url=None, filename=None, evidence={})
    ).rowcount
    feedback = session.execute(delete(FeedbackHit).where(FeedbackHit.customer_id == cid)).rowcount
    todos = session.execute(update(Todo).where(Todo.customer_id == cid).values(text="（已删除）")).rowcount
    session.execute(delete(CompanyEvent).where(CompanyEvent.customer_id == cid))
    session.execute(delete(ChatBinding).where(ChatBinding.customer_id == cid))
    session.execute(update(Checklist).where(Checklist.customer_id == cid).values(items=[]))
    opportunities = list(session.execute(select(Opportunity.id).where(Opportunity.customer_id == cid)).scalars())
    session.execute(
        update(Opportunity).where(Opportunity.customer_id == cid)
        .values(name=PURGED_NAME.format(id=cid), decision_chain=[], evidence={}, tags=[])
    )
    targets = [audit.customer(cid), *map(audit.opportunity, opportunities)]
    session.execute(update(AuditLog).where(AuditLog.target.in_(targets)).values(detail={}))  # type: ignore[union-attr]
    customer.name, customer.aliases, customer.credit_code = PURGED_NAME.format(id=cid), [], None
    customer.updated_at = at
    session.add(customer)
    audit.record(session, at=at, actor=actor, action="customer.purge", target=audit.customer(cid))
    return PurgeSummary(cid, contacts, touches, feedback, todos, voice)


def _purge_voice(session: Session, customer: Customer) -> int:
    """Voice messages about the customer — linked by a touch, or naming them in the transcript, confirmed or
    not — lose their transcript and audio; the row stays (without content) so a redelivery still dedupes."""
    names = [n for n in (customer.name, *customer.aliases) if n]
    linked = set(session.execute(select(Touch.source, Touch.source_msg_id).where(Touch.customer_id == customer.id)))
    rows = session.exec(select(Message).where(Message.kind == "voice", or_(
        col(Message.msg_id).in_([msg_id for _, msg_id in linked]), col(Message.text).is_(None),
        *(col(Message.text).contains(name) for name in names)))).all()
    purged = 0
    for row in rows:
        transcript = str(((row.event.get("payload") or {}).get("voice") or {}).get("transcript") or row.text or "")
        if (row.channel, row.msg_id) in linked or any(name in transcript for name in names):
            row.text, row.event = None, {"purged": True}
            session.add(row)
            purged += 1
    return purged


def forget_old_messages(session: Session, *, before: datetime) -> int:
    """Blanks the text of inbox rows older than the retention window; the row stays so redeliveries dedupe."""
    result = session.execute(
        update(Message)
        .where(Message.received_at < before, Message.processed_at.is_not(None), Message.text.is_not(None))
        .values(text=None, event={"retained": False})
    )
    return result.rowcount + _forget_unconfirmed_voice(session, before=before)


def _forget_unconfirmed_voice(session: Session, *, before: datetime) -> int:
    """A voice message never confirmed has no text, but its event holds the recognition and perhaps the audio."""
    rows = session.exec(select(Message).where(Message.kind == "voice", Message.received_at < before,
                                              col(Message.processed_at).is_not(None), col(Message.text).is_(None)))
    forgotten = 0
    for row in rows:
        if row.event.get("retained") is False or row.event.get("purged"):
            continue
        row.event = {"retained": False}
        session.add(row)
        forgotten += 1
    return forgotten


def find_customer(session: Session, name: str) -> Customer | None:
    return session.exec(select(Customer).where(Customer.name == name)).first()
