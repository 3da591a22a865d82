"""Queries for daily reports: a rep's day of evidence, reports and todos, customer history, stage-change days."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from store.models import (
    Contact,
    Customer,
    DailyReport,
    FeedbackHit,
    Message,
    Opportunity,
    StageChange,
    Todo,
    Touch,
)

TEXT_KINDS = ("text", "link", "file", "voice", "meeting")


def day_messages(session: Session, rep_id: str, start: datetime, end: datetime) -> list[Message]:
    """What the rep sent us in [start, end) that carries words, oldest first."""
    return list(session.exec(
        select(Message).where(Message.user_id == rep_id, col(Message.kind).in_(TEXT_KINDS),
                              Message.received_at >= start, Message.received_at < end)
        .order_by(col(Message.received_at), col(Message.id))
    ).all())


def day_touches(session: Session, rep_id: str, start: datetime, end: datetime) -> list[Touch]:
    return list(session.exec(
        select(Touch).where(Touch.rep_id == rep_id, Touch.at >= start, Touch.at < end).order_by(col(Touch.at))
    ).all())


def day_stage_changes(session: Session, rep_id: str, start: datetime, end: datetime) -> list[tuple[str, str, str]]:
    """(customer, from, to) of the rep's opportunities advanced in [start, end); a lead's creation is no advance."""
    rows = session.exec(
        select(Customer.name, StageChange.from_stage, StageChange.to_stage)
        .join(Opportunity, col(Opportunity.id) == StageChange.opportunity_id)
        .join(Customer, col(Customer.id) == Opportunity.customer_id)
        .where(Opportunity.owner_id == rep_id, col(StageChange.from_stage).is_not(None),
               StageChange.at >= start, StageChange.at < end)
        .order_by(col(StageChange.at))
    ).all()
    return [(name, str(before), after) for name, before, after in rows]


def contacts_of(session: Session, customer_ids: list[int]) -> list[Contact]:
    if not customer_ids:
        return []
    return list(session.exec(select(Contact).where(col(Contact.customer_id).in_(customer_ids))).all())


def contact_named(session: Session, customer_id: int, name: str) -> Contact | None:
    return session.exec(select(Contact).where(Contact.customer_id == customer_id, Contact.name == name)).first()


def report_of(session: Session, rep_id: str, day: date) -> DailyReport | None:
    return session.exec(select(DailyReport).where(DailyReport.rep_id == rep_id, DailyReport.day == day)).first()


def save_report(session: Session, *, rep_id: str, day: date, now: datetime, **values: Any) -> DailyReport:
    """One report per rep and day: a second save the same day updates the first."""
    report = report_of(session, rep_id, day) or DailyReport(rep_id=rep_id, day=day, created_at=now)
    for key, value in values.items():
        setattr(report, key, value)
    session.add(report)
    session.flush()
    return report


def report_todos(session: Session, report_id: int) -> list[Todo]:
    return list(session.exec(select(Todo).where(Todo.report_id == report_id).order_by(col(Todo.id))).all())


def open_todos(session: Session, customer_id: int) -> list[Todo]:
    return list(session.exec(
        select(Todo).where(Todo.customer_id == customer_id, col(Todo.done_at).is_(None)).order_by(col(Todo.id))
    ).all())


def todos_due(session: Session, day: date) -> list[tuple[Todo, str | None]]:
    """Open todos due by `day` not reminded yet (a missed run is caught up), with their customer's name."""
    rows = session.exec(
        select(Todo, Customer.name).outerjoin(Customer, col(Customer.id) == Todo.customer_id)
        .where(col(Todo.due_on) <= day, col(Todo.done_at).is_(None), col(Todo.reminded_at).is_(None))
        .order_by(col(Todo.rep_id), col(Todo.due_on), col(Todo.id))
    ).all()
    return [(todo, name) for todo, name in rows]


def reports_mentioning(session: Session, customer: str, *, before: date, rep_ids: set[str] | None,
                       limit: int = 20) -> list[DailyReport]:
    """Earlier reports that name the customer, newest first (JSON lists are filtered here, not in SQL)."""
    stmt = select(DailyReport).where(DailyReport.day < before).order_by(col(DailyReport.day).desc())
    if rep_ids is not None:
        stmt = stmt.where(col(DailyReport.rep_id).in_(rep_ids))
    found = [r for r in session.exec(stmt).all() if customer in r.customers]
    return found[:limit]


def negative_feedback(session: Session, customer_id: int, limit: int = 10) -> list[str]:
    rows = session.exec(
        select(FeedbackHit.keyword).where(FeedbackHit.customer_id == customer_id, FeedbackHit.polarity == "negative")
        .order_by(col(FeedbackHit.at).desc())
    ).all()
    return list(dict.fromkeys(rows))[:limit]


def reports_between(session: Session, since: date, until: date,
                    rep_ids: list[str] | None = None) -> list[DailyReport]:
    stmt = select(DailyReport).where(DailyReport.day >= since, DailyReport.day <= until)
    if rep_ids is not None:
        stmt = stmt.where(col(DailyReport.rep_id).in_(rep_ids))
    return list(session.exec(stmt.order_by(col(DailyReport.day), col(DailyReport.id))).all())


def stage_days_by_customer(session: Session, tz: ZoneInfo, since: datetime) -> dict[str, list[date]]:
    """Business dates on which each customer's opportunities advanced (lead creation excluded), by customer name."""
    rows = session.exec(
        select(Customer.name, StageChange.at)
        .join(Opportunity, col(Opportunity.id) == StageChange.opportunity_id)
        .join(Customer, col(Customer.id) == Opportunity.customer_id)
        .where(col(StageChange.from_stage).is_not(None), StageChange.at >= since)
    ).all()
    days: dict[str, list[date]] = defaultdict(list)
    for name, at in rows:
        days[name].append(at.astimezone(tz).date())
    return days
