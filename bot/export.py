"""`liuhen export KIND`: rows for managers, auditors and payroll, as JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from store.models import (
    Alert,
    BehaviorLog,
    BehaviorType,
    Customer,
    DailyReport,
    Forecast,
    ForecastItem,
    Opportunity,
    Signal,
    Touch,
)

Row = dict[str, Any]


class Window:
    """The --since/--until dates as instants in the business time zone (until is inclusive)."""

    def __init__(self, tz: ZoneInfo, since: date | None, until: date | None) -> None:
        self.tz = tz
        self.since = datetime.combine(since, time.min, tz) if since else None
        self.until = datetime.combine(until, time.max, tz) if until else None

    def has(self, instant: datetime | None) -> bool:
        if instant is None:
            return self.since is None and self.until is None
        return (self.since is None or instant >= self.since) and (self.until is None or instant <= self.until)

    def has_day(self, day: date) -> bool:
        return self.has(datetime.combine(day, time(12), self.tz))

    def iso(self, instant: datetime | None) -> str | None:
        return instant.astimezone(self.tz).isoformat() if instant else None


def _names(session: Session) -> dict[int, str]:
    return {c.id: c.name for c in session.exec(select(Customer)).all() if c.id is not None}


def customers(session: Session, w: Window) -> Iterable[Row]:
    for c in session.exec(select(Customer).order_by(Customer.id)).all():
        if w.has(c.created_at):
            yield {"id": c.id, "name": c.name, "aliases": c.aliases, "industry": c.industry, "owner": c.owner_id,
                   "created_at": w.iso(c.created_at)}


def opportunities(session: Session, w: Window) -> Iterable[Row]:
    names = _names(session)
    for o in session.exec(select(Opportunity).order_by(Opportunity.id)).all():
        if w.has(o.created_at):
            yield {
                "id": o.id, "customer": names.get(o.customer_id), "rep": o.owner_id, "stage": o.stage,
                "stage_entered_at": w.iso(o.stage_entered_at), "status": o.status, "industry": o.industry,
                "budget": o.budget, "budget_band": o.budget_band, "decision_chain": o.decision_chain,
                "need_stage": o.need_stage, "evidence": o.evidence, "tags": o.tags, "amount": o.amount,
                "expected_close": o.expected_close.isoformat() if o.expected_close else None, "health": o.health,
            }


def touches(session: Session, w: Window) -> Iterable[Row]:
    names = _names(session)
    for t in session.exec(select(Touch).order_by(Touch.id)).all():
        if w.has(t.at):
            yield {"id": t.id, "customer": names.get(t.customer_id) if t.customer_id else None, "rep": t.rep_id,
                   "kind": t.kind, "valid": t.valid, "at": w.iso(t.at), "source": t.source,
                   "source_msg_id": t.source_msg_id, "url": t.url, "filename": t.filename}


def alerts(session: Session, w: Window) -> Iterable[Row]:
    names = _names(session)
    for a in session.exec(select(Alert).order_by(Alert.id)).all():
        if w.has(a.created_at):
            yield {"id": a.id, "kind": a.kind, "opportunity": a.opportunity_id,
                   "customer": names.get(a.customer_id) if a.customer_id else None, "rep": a.rep_id,
                   "manager": a.manager_id, "level": a.level, "created_at": w.iso(a.created_at),
                   "resolved_at": w.iso(a.resolved_at)}


def reports(session: Session, w: Window) -> Iterable[Row]:
    for r in session.exec(select(DailyReport).order_by(DailyReport.id)).all():
        if w.has_day(r.day):
            yield {"id": r.id, "rep": r.rep_id, "date": r.day.isoformat(), "customers": r.customers,
                   "keywords": r.keywords, "todos": r.todos, "value_score": r.value_score,
                   "value_tags": r.value_tags, "source": r.source}


def behaviors(session: Session, w: Window) -> Iterable[Row]:
    types = {t.id: t for t in session.exec(select(BehaviorType)).all()}
    for b in session.exec(select(BehaviorLog).order_by(BehaviorLog.id)).all():
        if w.has(b.at):
            kind = types[b.behavior_type_id]
            yield {"id": b.id, "rep": b.rep_id, "opportunity": b.opportunity_id, "behavior": kind.name,
                   "category": kind.category, "points": b.points, "at": w.iso(b.at)}


def forecasts(session: Session, w: Window) -> Iterable[Row]:
    heads = {f.id: f for f in session.exec(select(Forecast)).all()}
    for item in session.exec(select(ForecastItem).order_by(ForecastItem.id)).all():
        head = heads[item.forecast_id]
        if not w.has(head.submitted_at):
            continue
        signals = session.exec(select(Signal).where(Signal.forecast_item_id == item.id)).all()
        yield {"id": item.id, "rep": head.rep_id, "period": head.period, "opportunity": item.opportunity_id,
               "amount": item.amount, "expected_close": item.expected_close.isoformat() if item.expected_close else None,
               "signals": [{"type": s.type, "verified": s.verified, "source": s.source} for s in signals],
               "risk": item.risk}


EXPORTS: dict[str, Callable[[Session, Window], Iterable[Row]]] = {
    "customers": customers,
    "opportunities": opportunities,
    "touches": touches,
    "reports": reports,
    "behaviors": behaviors,
    "forecasts": forecasts,
    "alerts": alerts,
}


def render(rows: list[Row], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n"
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v
                             for k, v in row.items()})
    return out.getvalue()
