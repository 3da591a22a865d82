"""Opportunity writes shared by handlers and sweeps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from store import alerts
from store.models import Customer, Opportunity

STAGE_ALERTS = ("stage_yellow", "stage_escalated")


def record_update(session: Session, opportunity: Opportunity, *, at: datetime, by: str) -> None:
    """A status update: the stage light goes back to green and its open warnings close."""
    opportunity.last_update_at = at
    session.add(opportunity)
    alerts.resolve_for_opportunity(session, opportunity.id, STAGE_ALERTS, at=at, by=by)


def open_opportunity(session: Session, opportunity_id: int | None) -> tuple[Opportunity, Customer] | None:
    """The opportunity a button or dialog is about, if it is still open."""
    opportunity = session.get(Opportunity, opportunity_id) if opportunity_id else None
    if opportunity is None or opportunity.status != "open":
        return None
    customer = session.get(Customer, opportunity.customer_id)
    return (opportunity, customer) if customer else None


def open_idle_since(session: Session) -> list[tuple[str, datetime]]:
    """(stage, last update) of every open opportunity: what a stage-threshold change is judged against."""
    stmt = select(Opportunity.stage, Opportunity.last_update_at).where(Opportunity.status == "open")
    return [(stage, last) for stage, last in session.execute(stmt)]
