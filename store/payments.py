"""Receipts against payment milestones, and the commission holds they lift."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from store import alerts
from store.models import Alert, CommissionHold, Payment, PaymentMilestone


def open_milestones(session: Session, opportunity_id: int) -> list[PaymentMilestone]:
    return list(session.exec(
        select(PaymentMilestone)
        .where(PaymentMilestone.opportunity_id == opportunity_id,
               PaymentMilestone.received_amount < PaymentMilestone.amount)
        .order_by(PaymentMilestone.due_on, PaymentMilestone.id)
    ).all())


def record_payment(session: Session, *, opportunity_id: int, rep_id: str | None, amount: int, at: datetime,
                   receipt: dict[str, Any]) -> list[PaymentMilestone]:
    """Pays the earliest open milestones first; returns those now fully paid (their holds are lifted)."""
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
            settled.append(milestone)
    session.add(Payment(opportunity_id=opportunity_id, milestone_id=first_milestone, rep_id=rep_id, amount=amount,
                        received_at=at, receipt=receipt))
    session.flush()
    for milestone in settled:
        release_holds(session, milestone.id, at=at)
    return settled


def release_holds(session: Session, milestone_id: int, *, at: datetime) -> None:
    session.execute(
        update(CommissionHold)
        .where(CommissionHold.milestone_id == milestone_id, CommissionHold.released_at.is_(None))
        .values(released_at=at)
    )
    keys = [f"payment_due:{milestone_id}", f"payment_overdue:{milestone_id}"]
    open_ids = list(session.exec(select(Alert.id).where(Alert.dedupe_key.in_(keys), Alert.resolved_at.is_(None))))
    alerts.resolve(session, open_ids, at=at, by="system")
