"""Opportunity writes shared by handlers and sweeps, and the stored stage lights the light sweep keeps."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, case, exists, literal, select, tuple_, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session

from store import alerts
from store.models import Alert, Customer, Opportunity, Team, User
from store.types import UTCDateTime

STAGE_ALERTS = ("stage_yellow", "stage_escalated")


def record_update(session: Session, opportunity: Opportunity, *, at: datetime, by: str) -> None:
    """A status update: the stage light goes back to green, its open warnings close, and the next tick judges it."""
    opportunity.last_update_at = at
    opportunity.light, opportunity.light_changes_at = "green", at
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


REP = aliased(User)


def with_recipients(stmt: Select[Any]) -> Select[Any]:
    """`stmt`, which reads Opportunity, with who a warning about it goes to appended: (customer id, customer,
    rep id, rep name, manager id)."""
    return (stmt.add_columns(Customer.id, Customer.name, Opportunity.owner_id, REP.name, Team.manager_id)
            .join(Customer, Customer.id == Opportunity.customer_id)
            .outerjoin(REP, REP.id == Opportunity.owner_id)
            .outerjoin(Team, Team.id == REP.team_id))


def lights_due(session: Session, *, at: datetime, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """Batches of the opportunities whose light changes at or before `at`, with who to tell: (id, name, customer
    id, customer, rep id, rep name, manager id, last update, stage, status).

    Walks the index on the change instant once: each batch starts after the last one read (keyset), so the
    rows the caller has judged meanwhile, and the entries they left behind, are not read again."""
    stmt = (with_recipients(select(Opportunity.id, Opportunity.name))
            .add_columns(Opportunity.last_update_at, Opportunity.stage, Opportunity.status,
                         Opportunity.light_changes_at)
            .where(Opportunity.light_changes_at <= at)
            .order_by(Opportunity.light_changes_at, Opportunity.id)
            .limit(batch))
    page = stmt
    while rows := session.execute(page).all():
        yield [tuple(row)[:-1] for row in rows]
        last_at, last_id = rows[-1][-1], rows[-1][0]
        page = stmt.where(Opportunity.light_changes_at >= last_at,
                          tuple_(Opportunity.light_changes_at, Opportunity.id) > tuple_(last_at, last_id))


def store_lights(session: Session, judged: list[tuple[int, str, datetime | None]]) -> None:
    """Writes each judged opportunity's (id, light, next change instant) in one executemany."""
    if judged:
        session.execute(update(Opportunity), [{"id": i, "light": light, "light_changes_at": changes_at}
                                              for i, light, changes_at in judged])


def close_moved_warnings(session: Session, opportunity_ids: list[int], *, at: datetime) -> None:
    """Of these opportunities, closes the warnings raised before their last update or for a closed deal."""
    if not opportunity_ids:
        return
    moved = exists().where(
        Opportunity.id == Alert.opportunity_id,
        (Opportunity.last_update_at > Alert.created_at) | (Opportunity.status != "open"),
    )
    session.execute(
        update(Alert)
        .where(Alert.opportunity_id.in_(opportunity_ids), Alert.kind.in_(STAGE_ALERTS), Alert.resolved_at.is_(None),
               moved)
        .values(resolved_at=at, resolved_by="system")
        .execution_options(synchronize_session=False)
    )


def recompute_lights(session: Session, first_change_days: Mapping[str, int], *, at: datetime) -> None:
    """After a rules change, in one statement per stage: each open opportunity's light changes first
    `first_change_days[stage]` days after its last update. Those past it keep their light and are due now, so
    the next tick judges them (and finds their existing warnings); the rest turn green. Other stages and
    closed deals never change."""
    for stage, days in first_change_days.items():
        changes_at = _plus_days(Opportunity.last_update_at, days)
        session.execute(
            update(Opportunity)
            .where(Opportunity.status == "open", Opportunity.stage == stage,
                   Opportunity.light_changes_at.is_distinct_from(changes_at))  # a stage whose rules held: no write
            .values(light_changes_at=changes_at,
                    light=case((Opportunity.last_update_at > at - timedelta(days=days), "green"),
                               else_=Opportunity.light))
            .execution_options(synchronize_session=False)
        )
    never = and_(Opportunity.status == "open", Opportunity.stage.not_in(list(first_change_days)))
    session.execute(
        update(Opportunity)
        .where(never | ((Opportunity.status != "open")
                        & ((Opportunity.light != "green") | Opportunity.light_changes_at.is_not(None))))
        .values(light="green", light_changes_at=None)
        .execution_options(synchronize_session=False)
    )


class _plus_days(FunctionElement[datetime]):
    """`column + days` in SQL: each database spells date arithmetic its own way."""

    type = UTCDateTime()
    inherit_cache = True

    def __init__(self, column: ColumnElement[Any], days: int) -> None:
        super().__init__(column, literal(days, Integer))


@compiles(_plus_days, "postgresql")
def _plus_days_postgresql(element: _plus_days, compiler: Any, **kw: Any) -> str:
    column, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({column} + make_interval(days => {days}))"


@compiles(_plus_days, "sqlite")
def _plus_days_sqlite(element: _plus_days, compiler: Any, **kw: Any) -> str:
    column, days = (compiler.process(clause, **kw) for clause in element.clauses)
    # Whole seconds moved, then the stored fraction kept: the same text as SQLAlchemy writes ('….ffffff'), so
    # instants compare (and tie) alike whoever wrote them.
    return f"(strftime('%Y-%m-%d %H:%M:%S', {column}, '+' || {days} || ' days') || substr({column}, 20))"
