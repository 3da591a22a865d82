"""`liuhen export KIND`: rows for managers, auditors and payroll, as JSON or CSV.

The CLI runs as the operator and sees all data; `--as USER` narrows the rows to what USER may see
(store.access). Either way the export is written to the audit log (who, which kind, how many rows, when).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from handlers.reports import flatten
from rules.loader import RuleSet
from rules.reports import progress_by
from scheduler.reports import outcomes
from store import access, audit
from store.models import (
    Alert,
    BehaviorLog,
    BehaviorType,
    CommissionHold,
    Customer,
    Forecast,
    ForecastItem,
    Message,
    Opportunity,
    Payment,
    Signal,
    Touch,
    User,
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


def customers(session: Session, w: Window, rules: RuleSet) -> Iterable[Row]:
    for c in session.exec(select(Customer).order_by(Customer.id)).all():
        if w.has(c.created_at):
            yield {"id": c.id, "name": c.name, "aliases": c.aliases, "industry": c.industry, "owner": c.owner_id,
                   "created_at": w.iso(c.created_at)}


def opportunities(session: Session, w: Window, rules: RuleSet) -> Iterable[Row]:
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


def _voice_notes(session: Session) -> dict[tuple[str, str], Message]:
    return {(m.channel, m.msg_id): m for m in session.exec(select(Message).where(Message.kind == "voice")).all()}


def touches(session: Session, w: Window, rules: RuleSet) -> Iterable[Row]:
    """Beyond the contract's fields: a touch spoken as a voice message carries its confirmed transcript and the
    audio's platform reference (a WeCom media id, a DingTalk downloadCode)."""
    names = _names(session)
    voice = _voice_notes(session)
    for t in session.exec(select(Touch).order_by(Touch.id)).all():
        if w.has(t.at):
            spoken = voice.get((t.source, t.source_msg_id or ""))
            yield {"id": t.id, "customer": names.get(t.customer_id) if t.customer_id else None, "rep": t.rep_id,
                   "kind": t.kind, "valid": t.valid, "at": w.iso(t.at), "source": t.source,
                   "source_msg_id": t.source_msg_id, "url": t.url, "filename": t.filename,
                   "transcript": spoken.text if spoken else None,
                   "audio": spoken.event.get("media") if spoken else None}


def alerts(session: Session, w: Window, rules: RuleSet) -> Iterable[Row]:
    names = _names(session)
    for a in session.exec(select(Alert).order_by(Alert.id)).all():
        if w.has(a.created_at):
            yield {"id": a.id, "kind": a.kind, "opportunity": a.opportunity_id,
                   "customer": names.get(a.customer_id) if a.customer_id else None, "rep": a.rep_id,
                   "manager": a.manager_id, "level": a.level, "created_at": w.iso(a.created_at),
                   "resolved_at": w.iso(a.resolved_at)}


def reports(session: Session, w: Window, rules: RuleSet) -> Iterable[Row]:
    """The contract fields plus the evidence a manager reads (feedback by category with the words that triggered it,
    competitors, contacts, amounts) and the replacement metric: did a customer advance within progress_days, per
    report, and the share of reports with / without valid todos that did, per rep and per team (over the rows)."""
    since = w.since.date() if w.since else date(1970, 1, 1)
    until = w.until.date() if w.until else date.max
    rows = sorted(outcomes(session, w.tz, rules, since, until), key=lambda pair: pair[0].id or 0)
    per_rep = progress_by([o for _, o in rows], lambda o: o.rep)
    per_team = progress_by([o for _, o in rows], lambda o: o.team)
    for r, o in rows:
        flat = flatten(r.body or {})
        yield {"id": r.id, "rep": r.rep_id, "date": r.day.isoformat(), "customers": r.customers,
               "keywords": r.keywords, "todos": r.todos, "feedback": flat["feedback"],
               "competitors": flat["competitors"], "contacts": flat["contacts"], "amounts": flat["amounts"],
               "value_score": r.value_score,
               "value_tags": r.value_tags, "source": r.source, "team": o.team,
               "has_valid_todos": o.has_valid_todos, "advanced_within_days": o.advanced,
               "progress_days": rules.reports.progress_days, "rep_progress": per_rep[o.rep].to_dict(),
               "team_progress": per_team[o.team].to_dict() if o.team else None}


def behaviors(session: Session, w: Window, rules: RuleSet) -> Iterable[Row]:
    types = {t.id: t for t in session.exec(select(BehaviorType)).all()}
    for b in session.exec(select(BehaviorLog).order_by(BehaviorLog.id)).all():
        if w.has(b.at):
            kind = types[b.behavior_type_id]
            yield {"id": b.id, "rep": b.rep_id, "opportunity": b.opportunity_id, "behavior": kind.name,
                   "category": kind.category, "points": b.points, "at": w.iso(b.at)}


def forecasts(session: Session, w: Window, rules: RuleSet) -> Iterable[Row]:
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


def _month(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%Y-%m")


def commission(session: Session, w: Window, rules: RuleSet) -> Iterable[Row]:
    """Both incentive tracks per rep and month: commission on received payments, behavior points, and holds."""
    payments: dict[tuple[str, str], int] = defaultdict(int)
    for p in session.exec(select(Payment)).all():
        if p.rep_id and w.has(p.received_at):
            payments[(p.rep_id, _month(p.received_at, w.tz))] += p.amount
    points: dict[tuple[str, str], int] = defaultdict(int)
    for b in session.exec(select(BehaviorLog)).all():
        if b.rep_id and w.has(b.at):
            points[(b.rep_id, _month(b.at, w.tz))] += b.points
    holds = session.exec(select(CommissionHold).order_by(CommissionHold.id)).all()
    periods = {period for _, period in payments} | {period for _, period in points}
    periods |= {_month(h.placed_at, w.tz) for h in holds if w.has(h.placed_at)}
    reps = {rep for rep, _ in payments} | {rep for rep, _ in points} | {h.rep_id for h in holds if h.rep_id}
    for rep in sorted(reps):
        for period in sorted(periods):
            active = [h for h in holds if h.rep_id == rep and _month(h.placed_at, w.tz) <= period
                      and (h.released_at is None or _month(h.released_at, w.tz) > period)]
            paid, earned = payments.get((rep, period), 0), points.get((rep, period), 0)
            if not (paid or earned or active):
                continue
            yield {"id": f"{rep}:{period}", "rep": rep, "period": period, "payments_amount": paid,
                   "commission_amount": round(paid * rules.payments.commission_rate), "points": earned,
                   "held": bool(active), "hold_reasons": [h.reason for h in active]}


EXPORTS: dict[str, Callable[[Session, Window, RuleSet], Iterable[Row]]] = {
    "customers": customers,
    "opportunities": opportunities,
    "touches": touches,
    "reports": reports,
    "behaviors": behaviors,
    "forecasts": forecasts,
    "alerts": alerts,
    "commission": commission,
}


PERSON = {"customers": "owner"}  # the column naming whose row it is; "rep" elsewhere


def run(session: Session, kind: str, w: Window, rules: RuleSet, *, actor: str, at: datetime,
        viewer: User | None = None) -> list[Row]:
    """One export's rows — all of them, or with a viewer only theirs (an unowned customer is the open pool) —
    recorded in the audit log by kind and count, never by content."""
    owners = access.reps_in_scope(session, viewer) if viewer is not None else None
    person = PERSON.get(kind, "rep")
    rows = [r for r in EXPORTS[kind](session, w, rules)
            if access.owns(owners, r[person]) or (kind == "customers" and r[person] is None)]
    audit.record(session, at=at, actor=viewer.id if viewer is not None else actor, action="export",
                 target=f"export:{kind}", detail={"operator": actor, "rows": len(rows),
                                                  "since": w.iso(w.since), "until": w.iso(w.until)})
    return rows


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
