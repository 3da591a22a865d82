"""Forecast queries: late-stage pipelines, system-found evidence, closed deals for similarity, period figures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from store.db import insert_many_ignoring_conflict
from store.models import (
    Alert,
    CompanyEvent,
    Customer,
    Forecast,
    ForecastItem,
    Opportunity,
    Signal,
    StageChange,
    Team,
    Touch,
    User,
)


def open_in_stages(session: Session, stages: Sequence[str], *,
                   rep_id: str | None = None) -> list[tuple[Opportunity, Customer]]:
    """Open opportunities in these stages that have an owner (one rep's, or everyone's)."""
    stmt = (select(Opportunity, Customer).join(Customer, Customer.id == Opportunity.customer_id)
            .where(Opportunity.status == "open", col(Opportunity.stage).in_(stages),
                   col(Opportunity.owner_id).is_not(None))
            .order_by(Opportunity.owner_id, Opportunity.id))
    if rep_id is not None:
        stmt = stmt.where(Opportunity.owner_id == rep_id)
    return [(o, c) for o, c in session.execute(stmt)]


def stage_entries(session: Session, opportunity_id: int, stages: Sequence[str]) -> list[StageChange]:
    return list(session.exec(select(StageChange).where(
        StageChange.opportunity_id == opportunity_id, col(StageChange.to_stage).in_(stages))
        .order_by(col(StageChange.at).desc())).all())


def touches_of(session: Session, opportunity: Opportunity, kinds: Sequence[str]) -> list[Touch]:
    """Valid touches of these kinds on the opportunity or, unlinked to any opportunity, on its customer."""
    return list(session.exec(select(Touch).where(
        Touch.valid.is_(True), col(Touch.kind).in_(kinds),  # type: ignore[attr-defined]
        (Touch.opportunity_id == opportunity.id)
        | ((Touch.customer_id == opportunity.customer_id) & col(Touch.opportunity_id).is_(None))
    ).order_by(col(Touch.at).desc())).all())


def candidate_signals(session: Session, opportunity_id: int, code: str) -> list[Signal]:
    """System signals recorded ahead of any forecast (e.g. a positive company event)."""
    return list(session.exec(select(Signal).where(
        Signal.opportunity_id == opportunity_id, Signal.type == code, col(Signal.forecast_item_id).is_(None))
        .order_by(col(Signal.observed_at).desc())).all())


def replace_forecast(session: Session, *, rep_id: str, period: str, at: datetime) -> Forecast:
    """The rep's forecast for the period, emptied: a resubmission replaces the earlier one."""
    forecast = session.exec(select(Forecast).where(Forecast.rep_id == rep_id, Forecast.period == period)).first()
    if forecast is None:
        forecast = Forecast(rep_id=rep_id, period=period)
    else:
        items = select(ForecastItem.id).where(ForecastItem.forecast_id == forecast.id)
        session.execute(delete(Signal).where(col(Signal.forecast_item_id).in_(items)))
        session.execute(delete(ForecastItem).where(ForecastItem.forecast_id == forecast.id))
    forecast.status, forecast.submitted_at = "submitted", at
    session.add(forecast)
    session.flush()
    return forecast


def items_of(session: Session, forecast_ids: Sequence[int]) -> list[tuple[ForecastItem, list[Signal]]]:
    items = list(session.exec(select(ForecastItem).where(col(ForecastItem.forecast_id).in_(forecast_ids))
                              .order_by(ForecastItem.id)).all())
    signals: dict[int, list[Signal]] = {}
    if items:
        for s in session.exec(select(Signal).where(col(Signal.forecast_item_id).in_([i.id for i in items]))
                              .order_by(Signal.id)).all():
            signals.setdefault(s.forecast_item_id or 0, []).append(s)
    return [(i, signals.get(i.id or 0, [])) for i in items]


def forecasts(session: Session, *, period: str | None = None, status: str | None = None,
              rep_ids: Sequence[str] | None = None) -> list[Forecast]:
    stmt = select(Forecast).order_by(Forecast.period, Forecast.rep_id)
    if period is not None:
        stmt = stmt.where(Forecast.period == period)
    if status is not None:
        stmt = stmt.where(Forecast.status == status)
    if rep_ids is not None:
        stmt = stmt.where(col(Forecast.rep_id).in_(rep_ids))
    return list(session.exec(stmt).all())


def committed_totals(session: Session, forecast_ids: Sequence[int]) -> dict[int, int]:
    stmt = (select(ForecastItem.forecast_id, func.coalesce(func.sum(ForecastItem.amount), 0))
            .where(col(ForecastItem.forecast_id).in_(forecast_ids), ForecastItem.category == "commit")
            .group_by(ForecastItem.forecast_id))
    return {fid: int(total) for fid, total in session.execute(stmt)}


def won_totals(session: Session, *, since: datetime, until: datetime) -> dict[str, int]:
    """Amount won per rep with `closed_at` in [since, until)."""
    stmt = (select(Opportunity.owner_id, func.coalesce(func.sum(Opportunity.amount), 0))
            .where(Opportunity.status == "won", Opportunity.closed_at >= since, Opportunity.closed_at < until,
                   col(Opportunity.owner_id).is_not(None))
            .group_by(Opportunity.owner_id))
    return {rep: int(total) for rep, total in session.execute(stmt)}


def won_deals(session: Session, *, rep_id: str, since: datetime, until: datetime) -> list[tuple[Opportunity, str]]:
    stmt = (select(Opportunity, Customer.name).join(Customer, Customer.id == Opportunity.customer_id)
            .where(Opportunity.owner_id == rep_id, Opportunity.status == "won", Opportunity.closed_at >= since,
                   Opportunity.closed_at < until).order_by(Opportunity.id))
    return [(o, name) for o, name in session.execute(stmt)]


def people(session: Session) -> dict[str, tuple[str, str | None, str | None, str | None]]:
    """user id → (name, team, region, manager) for grouping the board and addressing reports."""
    stmt = select(User.id, User.name, Team.name, Team.region, Team.manager_id).outerjoin(Team, Team.id == User.team_id)
    return {uid: (name, team, region, manager) for uid, name, team, region, manager in session.execute(stmt)}


def closed_won(session: Session, *, since: datetime, industry: str | None = None,
               band: str | None = None) -> list[tuple[Any, ...]]:
    """(created_at, closed_at, industry, budget_band, decision_chain) of deals won since `since`.

    Narrowed by industry (and band) in SQL on `ix_opportunity_similar`; the structure is compared by the caller.
    """
    stmt = select(Opportunity.created_at, Opportunity.closed_at, Opportunity.industry, Opportunity.budget_band,
                  Opportunity.decision_chain).where(Opportunity.status == "won", Opportunity.closed_at >= since)
    if industry is not None:
        stmt = stmt.where(Opportunity.industry == industry)
    if band is not None:
        stmt = stmt.where(Opportunity.budget_band == band)
    return [tuple(row) for row in session.execute(stmt)]


def store_events(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Company events fetched from the provider; returns the external ids that were new."""
    return set(insert_many_ignoring_conflict(session, CompanyEvent, rows, ["external_id"], returning="external_id"))


def recent_events(session: Session, *, since: datetime,
                  kinds: Sequence[str]) -> list[tuple[CompanyEvent, Opportunity, Customer]]:
    """Events of these kinds since `since`, each with every open opportunity of its customer (set-based)."""
    stmt = (select(CompanyEvent, Opportunity, Customer)
            .join(Opportunity, Opportunity.customer_id == CompanyEvent.customer_id)
            .join(Customer, Customer.id == CompanyEvent.customer_id)
            .where(CompanyEvent.occurred_at >= since, col(CompanyEvent.kind).in_(kinds), Opportunity.status == "open")
            .order_by(CompanyEvent.id, Opportunity.id))
    return [(e, o, c) for e, o, c in session.execute(stmt)]


def events_between(session: Session, customer_ids: Sequence[int], *, since: datetime,
                   until: datetime) -> list[CompanyEvent]:
    return list(session.exec(select(CompanyEvent).where(
        col(CompanyEvent.customer_id).in_(customer_ids), CompanyEvent.occurred_at >= since,
        CompanyEvent.occurred_at < until).order_by(CompanyEvent.occurred_at)).all())


def customers_to_watch(session: Session) -> list[Customer]:
    """Customers with an open opportunity: the ones whose company data is worth fetching."""
    has_open = select(Opportunity.customer_id).where(Opportunity.status == "open")
    return list(session.exec(select(Customer).where(col(Customer.id).in_(has_open)).order_by(Customer.id)).all())


def open_alerts(session: Session, kind: str, *, before: datetime) -> list[Alert]:
    return list(session.exec(select(Alert).where(Alert.kind == kind, col(Alert.resolved_at).is_(None),
                                                 Alert.created_at < before).order_by(Alert.id)).all())


def alert_by_key(session: Session, dedupe_key: str) -> Alert | None:
    return session.exec(select(Alert).where(Alert.dedupe_key == dedupe_key)).first()


def deviation_forecast(session: Session, alert: Alert) -> Forecast | None:
    """The forecast a `forecast_deviation:{id}` alert is about."""
    return session.get(Forecast, int(alert.dedupe_key.rsplit(":", 1)[1]))
