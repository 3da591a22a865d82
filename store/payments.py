"""Receipts against payment milestones, the commission holds they lift, and the milestones' next due instants."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Row, update
from sqlmodel import Session, select

from store import alerts, outbox
from store.models import Alert, CommissionHold, Opportunity, Payment, PaymentMilestone
from store.opportunities import with_recipients

WITHDRAWN_REASON = "回款已到，未送达的回款提醒已撤回"


def open_milestones(session: Session, opportunity_id: int) -> list[PaymentMilestone]:
    return list(session.exec(
        select(PaymentMilestone)
        .where(PaymentMilestone.opportunity_id == opportunity_id,
               PaymentMilestone.received_amount < PaymentMilestone.amount)
        .order_by(PaymentMilestone.due_on, PaymentMilestone.id)
    ).all())


class Receipt(NamedTuple):
    settled: list[PaymentMilestone]  # milestones this payment paid in full
    released: list[CommissionHold]  # the commission holds that lifted (only milestones that were overdue had one)


def record_payment(session: Session, *, opportunity_id: int, rep_id: str | None, amount: int, at: datetime,
                   receipt: dict[str, Any]) -> Receipt:
    """Pays the earliest open milestones first; the holds of those now fully paid are lifted."""
    remaining = amount
    settled: list[PaymentMilestone] = []
    first_milestone: int | None = None
    for milestone in open_milestones(session, opportunity_id):
        if remaining <= 0:
            break
        first_milestone = first_milestone or milestone.id
        paid = min(remaining, milestone.amount - milestone.received_amount)
        milestone.received_amount += paid
        milestone.received_at = at
        milestone.receipt = receipt
        remaining -= paid
        session.add(milestone)
        if milestone.received_amount >= milestone.amount:
            milestone.next_due_at = None  # paid: the payment sweep has nothing more to say about it
            settled.append(milestone)
    session.add(Payment(opportunity_id=opportunity_id, milestone_id=first_milestone, rep_id=rep_id, amount=amount,
                        received_at=at, receipt=receipt))
    session.flush()
    released = [hold for milestone in settled for hold in release_holds(session, milestone.id, at=at)]
    return Receipt(settled, released)


def overdue_key(milestone_id: int) -> str:
    """The overdue alert's dedupe key; the rep's card has it too, the manager's `manager_card_key`."""
    return f"payment_overdue:{milestone_id}"


def manager_card_key(milestone_id: int) -> str:
    """The manager's hold card in the outbox, found again to redraw it when the hold lifts."""
    return f"{overdue_key(milestone_id)}:manager"


def release_holds(session: Session, milestone_id: int, *, at: datetime) -> list[CommissionHold]:
    """Lifts the milestone's open holds, resolves its payment alerts and takes back their pushes still waiting
    for the quiet hours to end (nobody is told of a problem already gone); returns the holds lifted."""
    holds = list(session.exec(select(CommissionHold).where(CommissionHold.milestone_id == milestone_id,
                                                           CommissionHold.released_at.is_(None))))
    for hold in holds:
        hold.released_at = at
        session.add(hold)
    keys = [f"payment_due:{milestone_id}", overdue_key(milestone_id)]
    open_ids = list(session.exec(select(Alert.id).where(Alert.dedupe_key.in_(keys), Alert.resolved_at.is_(None))))
    alerts.resolve(session, open_ids, at=at, by="system")
    outbox.withdraw_pending(session, [*keys, manager_card_key(milestone_id)], reason=WITHDRAWN_REASON)
    return holds


def milestones_due(session: Session, *, at: datetime, limit: int) -> Sequence[Row[Any]]:
    """Up to `limit` milestones whose next due instant is at or before `at`, with who to tell: (id, label, due on,
    amount, opportunity id, customer id, customer, rep id, rep name, manager id, deal status, unpaid).

    The ids first, by an index range scan alone: on a settled tick there are none, and the join is never planned."""
    ids = list(session.exec(select(PaymentMilestone.id).where(PaymentMilestone.next_due_at <= at).limit(limit)))
    if not ids:
        return []
    milestones = (select(PaymentMilestone.id, PaymentMilestone.label, PaymentMilestone.due_on, PaymentMilestone.amount,
                         Opportunity.id)
                  .join(Opportunity, Opportunity.id == PaymentMilestone.opportunity_id))
    stmt = with_recipients(milestones).add_columns(Opportunity.status,
                                                   PaymentMilestone.received_amount < PaymentMilestone.amount)
    return session.execute(stmt.where(PaymentMilestone.id.in_(ids))).all()


def store_next_due(session: Session, judged: list[tuple[int, datetime | None]]) -> None:
    """Writes each judged milestone's (id, next due instant) in one executemany."""
    if judged:
        session.execute(update(PaymentMilestone), [{"id": i, "next_due_at": due_at} for i, due_at in judged])


def judge_all_unpaid(session: Session, *, at: datetime) -> None:
    """After a rules change: every unpaid milestone is due now, so this tick judges it afresh."""
    session.execute(update(PaymentMilestone).where(PaymentMilestone.received_amount < PaymentMilestone.amount)
                    .values(next_due_at=at).execution_options(synchronize_session=False))
