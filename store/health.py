"""The evidence behind health scores, gathered set-based per batch of opportunities, and the scores' storage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, func, insert, or_, select, true, update
from sqlmodel import Session

from store.models import Customer, FeedbackHit, HealthSnapshot, Opportunity, Touch

BATCH = 2000
FILE_KINDS = ("pdf", "file")


@dataclass(frozen=True)
class Evidence:
    opportunity_id: int
    name: str
    customer_id: int
    customer: str
    owner_id: str | None
    stage: str
    last_update_at: datetime
    health: int | None
    valid_touches: int
    files: int
    last_valid_touch: datetime | None
    negative: list[str]
    positive: list[str]


def evidence(session: Session, *, since: datetime, at: datetime,
             opportunity_ids: list[int]) -> Iterator[list[Evidence]]:
    """These open opportunities with their touch counts in (since, at], last valid touch and feedback hits."""
    in_window = and_(Touch.at > since, Touch.at <= at)
    touches = (
        select(
            Touch.customer_id.label("customer_id"),
            func.sum(case((and_(in_window, Touch.valid.is_(True)), 1), else_=0)).label("valid"),
            func.sum(case((and_(in_window, Touch.kind.in_(FILE_KINDS)), 1), else_=0)).label("files"),
            func.max(case((Touch.valid.is_(True), Touch.at), else_=None)).label("last_valid"),
        )
        .where(Touch.at <= at, Touch.customer_id.in_(
            select(Opportunity.customer_id).where(Opportunity.id.in_(opportunity_ids))))
        .group_by(Touch.customer_id)
        .subquery()
    )
    stmt = (
        select(Opportunity.id, Opportunity.name, Opportunity.customer_id, Customer.name, Opportunity.owner_id,
               Opportunity.stage, Opportunity.last_update_at, Opportunity.health, touches.c.valid, touches.c.files,
               touches.c.last_valid)
        .join(Customer, Customer.id == Opportunity.customer_id)
        .outerjoin(touches, touches.c.customer_id == Opportunity.customer_id)
        .where(Opportunity.status == "open")
        .order_by(Opportunity.id)
    )
    stmt = stmt.where(Opportunity.id.in_(opportunity_ids))
    for rows in session.execute(stmt.execution_options(yield_per=BATCH)).partitions():
        feedback = _feedback(session, {row[2] for row in rows}, since=since, at=at)
        yield [
            Evidence(opportunity_id=row[0], name=row[1], customer_id=row[2], customer=row[3], owner_id=row[4],
                     stage=row[5], last_update_at=row[6], health=row[7], valid_touches=int(row[8] or 0),
                     files=int(row[9] or 0), last_valid_touch=_aware(row[10]),
                     negative=feedback[row[2]]["negative"], positive=feedback[row[2]]["positive"])
            for row in rows
        ]


def evidence_moves(session: Session, *, customer_ids: set[int], at: datetime,
                   window: timedelta) -> dict[int, datetime]:
    """Per customer, the next instant after `at` a counted touch or a feedback hit enters or leaves the window."""
    moves: dict[int, datetime] = {}
    counted = or_(Touch.valid.is_(True), Touch.kind.in_(FILE_KINDS))
    for model, only in ((Touch, counted), (FeedbackHit, true())):
        for customer_id, leaves, enters in session.execute(
                select(model.customer_id, func.min(case((model.at <= at, model.at), else_=None)),
                       func.min(case((model.at > at, model.at), else_=None)))
                .where(model.customer_id.in_(customer_ids), model.at > at - window, only)
                .group_by(model.customer_id)):
            instants = [moment for moment in (moves.get(customer_id), _aware(enters),
                                               None if leaves is None else _aware(leaves) + window) if moment]
            moves[customer_id] = min(instants)
    return moves


def _aware(value: Any) -> datetime | None:
    """max() over a CASE loses the column type on SQLite: bring the UTC instant back."""
    if value is None or isinstance(value, datetime) and value.tzinfo is not None:
        return value
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC)


def _feedback(session: Session, customer_ids: set[int], *, since: datetime,
              at: datetime) -> dict[int, dict[str, list[str]]]:
    found: dict[int, dict[str, list[str]]] = defaultdict(lambda: {"negative": [], "positive": []})
    if not customer_ids:
        return found
    rows = session.execute(
        select(FeedbackHit.customer_id, FeedbackHit.keyword, FeedbackHit.polarity)
        .where(FeedbackHit.customer_id.in_(customer_ids), FeedbackHit.at > since, FeedbackHit.at <= at)
        .order_by(FeedbackHit.id)
    )
    for customer_id, keyword, polarity in rows:
        found[customer_id].setdefault(polarity, []).append(keyword)
    return found


def save_scores(session: Session, scores: dict[int, tuple[int | None, datetime | None]],
                snapshots: list[tuple[int, int, dict[str, Any]]], *, at: datetime) -> None:
    """opportunity id → (score, next rescore instant) in one statement (a score of None: closed, keep the last one),
    and a snapshot for each score that moved."""
    table = Opportunity.__table__
    for keep, values in ((False, {"health": bindparam("score"), "health_rescore_at": bindparam("due")}),
                         (True, {"health_rescore_at": bindparam("due")})):
        rows = [{"oid": opp_id, "score": score, "due": due} for opp_id, (score, due) in scores.items()
                if (score is None) == keep]
        if rows:
            session.execute(update(table).where(table.c.id == bindparam("oid")).values(values), rows)
    if snapshots:
        session.execute(insert(HealthSnapshot.__table__), [
            {"opportunity_id": opp_id, "at": at, "score": score, "components": components}
            for opp_id, score, components in snapshots])
