"""What each dashboard shows, scoped to the viewer: a rep their own, a manager their teams, an admin all."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session

from rules.behaviors import rank
from rules.forecast import Risk
from rules.lights import idle_days, light
from rules.loader import RuleSet
from store import behaviors as behavior_store
from store.access import reps_in_scope
from store.models import (
    Customer,
    DailyReport,
    Forecast,
    ForecastItem,
    HealthSnapshot,
    Opportunity,
    StageChange,
    Team,
    Touch,
    User,
)

REPORT_DAYS = 14
BOARD_DAYS = 30
TOUCHES_SHOWN = 20
TOUCH_WORDS = 40  # characters of a message shown as what the touch was
ROLE = {"rep": "销售", "manager": "主管", "admin": "管理员"}
TEXT = {"own": "我的商机", "team": "{teams} 团队", "all": "全公司", "window": "近 {days} 天"}


def scope_label(session: Session, viewer: User) -> str:
    if viewer.role == "admin":
        return TEXT["all"]
    if viewer.role == "manager":
        teams = session.execute(select(Team.name).where(Team.manager_id == viewer.id).order_by(Team.name)).scalars()
        return TEXT["team"].format(teams="、".join(teams))
    return TEXT["own"]


def _scoped(stmt: Any, column: Any, owners: list[str] | None) -> Any:
    """The statement limited to rows whose `column` (a user id) is in the viewer's scope (store.access)."""
    return stmt if owners is None else stmt.where(column.in_(owners))


def _names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(User.id, User.name)).all())


def _latest_components(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    newest = (select(func.max(HealthSnapshot.id)).where(HealthSnapshot.opportunity_id.in_(ids))
              .group_by(HealthSnapshot.opportunity_id))
    rows = session.execute(select(HealthSnapshot.opportunity_id, HealthSnapshot.components)
                           .where(HealthSnapshot.id.in_(newest)))
    return dict(rows.all())


def pipeline(session: Session, rules: RuleSet, owners: list[str] | None, at: datetime) -> dict[str, Any]:
    """Every open opportunity with its light and health, and light counts per stage for the chart."""
    stages = {s.name: s for s in rules.stages.stages}
    names = _names(session)
    stmt = (select(Opportunity, Customer.name).join(Customer, Customer.id == Opportunity.customer_id)
            .where(Opportunity.status == "open").order_by(Opportunity.last_update_at))
    rows = session.execute(_scoped(stmt, Opportunity.owner_id, owners)).all()
    components = _latest_components(session, [o.id for o, _ in rows if o.id is not None])
    items = [{
        "id": o.id, "customer_id": o.customer_id, "customer": customer, "name": o.name,
        "rep": names.get(o.owner_id or "", o.owner_id),
        "stage": o.stage, "idle_days": idle_days(o.last_update_at, at), "amount": o.amount,
        "light": light(stages.get(o.stage), o.last_update_at, at), "health": o.health,
        "components": {k: v for k, v in components.get(o.id, {}).items() if k != "suggestions"},
        "suggestions": components.get(o.id, {}).get("suggestions", []),
    } for o, customer in rows]
    order = [s.name for s in rules.stages.stages if not (s.won or s.lost)]
    counts = {s: Counter(i["light"] for i in items if i["stage"] == s) for s in order}
    return {"stages": order, "lights": {k: [counts[s][k] for s in order] for k in ("green", "yellow", "escalated")},
            "items": items}


def leaderboard(session: Session, owners: list[str] | None, at: datetime) -> dict[str, Any]:
    """The last 30 days' ranking and rep × category heatmap (a rolling window: never empty on the 1st)."""
    names = _names(session)
    totals = behavior_store.totals(session, since=at - timedelta(days=BOARD_DAYS), until=at, rep_ids=owners)
    standings = rank(totals, names)
    categories = sorted({c for by in totals.values() for c in by})
    reps = [s.rep for s in standings]
    return {
        "period": TEXT["window"].format(days=BOARD_DAYS),
        "standings": [{"rank": s.rank, "rep": names.get(s.rep, s.rep), "total": s.total} for s in standings],
        "heatmap": {"reps": [names.get(r, r) for r in reps], "categories": categories,
                    "cells": [[x, y, totals[r].get(c, 0)] for y, r in enumerate(reps)
                              for x, c in enumerate(categories)]},
    }


def forecast(session: Session, owners: list[str] | None, at: datetime, tz: ZoneInfo) -> dict[str, Any] | None:
    """This period's submitted forecasts per rep (commit/best amounts, risk counts); None when there are none."""
    label = at.astimezone(tz).strftime("%Y-%m")
    stmt = (select(Forecast.rep_id, ForecastItem.category, ForecastItem.risk, ForecastItem.amount)
            .join(ForecastItem, ForecastItem.forecast_id == Forecast.id).where(Forecast.period == label))
    rows = session.execute(_scoped(stmt, Forecast.rep_id, owners)).all()
    if not rows:
        return None
    names = _names(session)
    board: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for rep, category, risk, amount in rows:
        board[rep][category] += amount or 0
        board[rep]["high_risk"] += risk == Risk.HIGH
    return {"period": label, "rows": [{"rep": names.get(r, r), **dict(v)} for r, v in sorted(board.items())]}


def value_radar(session: Session, rules: RuleSet, owners: list[str] | None, at: datetime,
                tz: ZoneInfo) -> dict[str, Any] | None:
    """Share of the last two weeks' daily reports carrying each value tag; None when there are none."""
    since = at.astimezone(tz).date() - timedelta(days=REPORT_DAYS)
    stmt = select(DailyReport.value_tags, DailyReport.value_score).where(DailyReport.day >= since)
    rows = session.execute(_scoped(stmt, DailyReport.rep_id, owners)).all()
    tags = [t.name for t in rules.reports.value_tags]
    if not rows or not tags:
        return None
    hits = Counter(tag for row_tags, _ in rows for tag in row_tags)
    return {"tags": tags, "values": [round(100 * hits[t] / len(rows)) for t in tags], "reports": len(rows),
            "average": round(sum(score for _, score in rows) / len(rows))}


def home(session: Session, rules: RuleSet, viewer: User, at: datetime, tz: ZoneInfo) -> dict[str, Any]:
    owners = reps_in_scope(session, viewer)
    return {
        "viewer": {"id": viewer.id, "name": viewer.name, "role": ROLE.get(viewer.role, viewer.role)},
        "scope": scope_label(session, viewer), "at": at.astimezone(tz).isoformat(),
        "pipeline": pipeline(session, rules, owners, at), "leaderboard": leaderboard(session, owners, at),
        "forecast": forecast(session, owners, at, tz), "value_radar": value_radar(session, rules, owners, at, tz),
    }


def opportunity(session: Session, rules: RuleSet, opp: Opportunity, at: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """One opportunity: light, health with its components, stage history and recent touches."""
    stages = {s.name: s for s in rules.stages.stages}
    customer = session.get(Customer, opp.customer_id)
    names = _names(session)
    comps = _latest_components(session, [opp.id] if opp.id is not None else [])
    comp = comps.get(opp.id or 0, {})
    history = session.execute(select(StageChange.to_stage, StageChange.at).where(StageChange.opportunity_id == opp.id)
                              .order_by(StageChange.at)).all()
    touches = session.execute(select(Touch.kind, Touch.valid, Touch.at, Touch.filename, Touch.url, Touch.evidence)
                              .where(Touch.customer_id == opp.customer_id).order_by(Touch.at.desc())
                              .limit(TOUCHES_SHOWN)).all()
    labels = rules.touches.labels
    return {
        "id": opp.id, "name": opp.name, "customer": customer.name if customer else "", "stage": opp.stage,
        "status": opp.status, "rep": names.get(opp.owner_id or "", opp.owner_id), "amount": opp.amount,
        "light": light(stages.get(opp.stage), opp.last_update_at, at) if opp.status == "open" else "green",
        "idle_days": idle_days(opp.last_update_at, at), "health": opp.health,
        "components": {k: v for k, v in comp.items() if k != "suggestions"}, "suggestions": comp.get("suggestions", []),
        "history": [{"stage": s, "at": t.astimezone(tz).strftime("%Y-%m-%d")} for s, t in history],
        "touches": [{"kind": labels.get(k, k), "valid": v, "at": t.astimezone(tz).strftime("%m-%d %H:%M"),
                     "what": _touch_content(f, u, e)} for k, v, t, f, u, e in touches],
    }


def _touch_content(filename: str | None, url: str | None, evidence: dict[str, Any] | None) -> str:
    """What the touch was: the file, the link's title or address, else the words of the message."""
    evidence = evidence or {}
    words = " ".join(str(evidence.get("text") or "").split())
    return filename or evidence.get("title") or url or (words[:TOUCH_WORDS] + ("…" if len(words) > TOUCH_WORDS else ""))
