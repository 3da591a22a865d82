"""Stage traffic-light sweep: yellow cards to reps, escalation cards to managers, once per stalled state."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from bot.cards import Button, Card
from bot.links import DASH
from rules.lights import cutoffs, idle_days
from rules.loader import RuleSet
from rules.schema import Stage
from scheduler.notify import Push, deliver
from store import alerts
from store.models import Alert, Customer, Opportunity, Team, User
from store.opportunities import STAGE_ALERTS

BATCH = 1000

TEXT = {
    "yellow_title": "🟡 商机停滞提醒",
    "yellow_body": "「{customer}」{name} 已在「{stage}」阶段 {days} 天没有更新（{yellow} 天亮黄灯，{escalate} 天将升级给主管）。",
    "escalated_title": "🔴 商机升级：需要主管跟进",
    "escalated_body": "{rep} 的「{customer}」{name} 在「{stage}」阶段已 {days} 天没有更新，已进入您的待办。",
    "stage": "阶段",
    "last_update": "上次更新",
    "rep": "负责销售",
    "update": "更新进展",
    "advance": "推进阶段",
    "extend": "申请延期",
    "followed": "已跟进",
    "talk": "约谈销售",
    "yellow_line": "🟡 {customer} · {stage} · {days} 天未更新",
    "dashboard": "打开团队看板",
    "escalated_line": "🔴 {rep} · {customer} · {stage} · {days} 天未更新",
    "digest": "商机红绿灯提醒",
    "never": "—",
}


@dataclass(frozen=True)
class Stalled:
    opportunity_id: int
    name: str
    customer_id: int
    customer: str
    rep_id: str | None
    rep_name: str | None
    manager_id: str | None
    last_update_at: datetime


def run(session: Session, at: datetime, rules: RuleSet, tz: ZoneInfo) -> int:
    """Closes warnings whose opportunity moved, then raises and pushes the new ones; returns pushes written."""
    _close_moved(session, at)
    found: list[tuple[Stalled, Stage, str]] = []
    for stage in rules.stages.stages:
        yellow_cut, escalate_cut = cutoffs(stage, at)
        if escalate_cut is not None:
            found += [(row, stage, "stage_escalated") for row in _stalled(session, stage, "stage_escalated",
                                                                           upto=escalate_cut)]
        if yellow_cut is not None:
            found += [(row, stage, "stage_yellow") for row in _stalled(session, stage, "stage_yellow",
                                                                        upto=yellow_cut, after=escalate_cut)]
    raised = alerts.raise_many(session, [_alert(row, stage, kind, at) for row, stage, kind in found])
    pushes = [_push(row, stage, kind, at, tz) for row, stage, kind in found if _key(row, kind) in raised]
    return deliver(session, [p for p in pushes if p is not None], at=at, tz=tz, notify=rules.notify,
                   digest_title=TEXT["digest"])


def _close_moved(session: Session, at: datetime) -> None:
    """A light that went green (update, stage change, closed deal) closes its open warnings."""
    moved = exists().where(
        Opportunity.id == Alert.opportunity_id,
        (Opportunity.last_update_at > Alert.created_at) | (Opportunity.status != "open"),
    )
    session.execute(
        update(Alert)
        .where(Alert.kind.in_(STAGE_ALERTS), Alert.resolved_at.is_(None), moved)
        .values(resolved_at=at, resolved_by="system")
        .execution_options(synchronize_session=False)
    )


def _stalled(
    session: Session, stage: Stage, kind: str, *, upto: datetime, after: datetime | None = None
) -> Iterator[Stalled]:
    """Open opportunities in `stage` last updated in (after, upto] with no `kind` warning for this state yet."""
    rep = aliased(User)
    already = exists().where(
        Alert.opportunity_id == Opportunity.id, Alert.kind == kind, Alert.created_at > Opportunity.last_update_at
    )
    conditions = [Opportunity.status == "open", Opportunity.stage == stage.name, Opportunity.last_update_at <= upto,
                  ~already]
    if after is not None:
        conditions.append(Opportunity.last_update_at > after)
    stmt = (
        select(Opportunity.id, Opportunity.name, Customer.id, Customer.name, Opportunity.owner_id, rep.name, Team.manager_id,
               Opportunity.last_update_at)
        .join(Customer, Customer.id == Opportunity.customer_id)
        .outerjoin(rep, rep.id == Opportunity.owner_id)
        .outerjoin(Team, Team.id == rep.team_id)
        .where(and_(*conditions))
        .order_by(Opportunity.id)
    )
    for row in session.execute(stmt.execution_options(yield_per=BATCH)):
        yield Stalled(*row)


def _key(row: Stalled, kind: str) -> str:
    """One warning per stalled state: a new update makes a new state."""
    return f"{kind}:{row.opportunity_id}:{row.last_update_at.isoformat()}"


def _alert(row: Stalled, stage: Stage, kind: str, at: datetime) -> dict[str, object]:
    return {"kind": kind, "level": "high" if kind == "stage_escalated" else "warning", "dedupe_key": _key(row, kind),
            "opportunity_id": row.opportunity_id, "customer_id": row.customer_id, "rep_id": row.rep_id,
            "manager_id": row.manager_id, "message": _body(row, stage, kind, at), "created_at": at,
            "resolved_at": None, "resolved_by": None}


def _push(row: Stalled, stage: Stage, kind: str, at: datetime, tz: ZoneInfo) -> Push | None:
    recipient = row.manager_id if kind == "stage_escalated" else row.rep_id
    if recipient is None:
        return None
    return Push(recipient=recipient, dedupe_key=_key(row, kind), card=_card(row, stage, kind, at, tz),
                line=_line(row, stage, kind, at))


def _body(row: Stalled, stage: Stage, kind: str, at: datetime) -> str:
    template = TEXT["escalated_body"] if kind == "stage_escalated" else TEXT["yellow_body"]
    return template.format(customer=row.customer, name=row.name, stage=stage.name, rep=row.rep_name or row.rep_id,
                           days=idle_days(row.last_update_at, at), yellow=stage.yellow_days,
                           escalate=stage.escalate_days or TEXT["never"])


def _line(row: Stalled, stage: Stage, kind: str, at: datetime) -> str:
    template = TEXT["escalated_line"] if kind == "stage_escalated" else TEXT["yellow_line"]
    return template.format(customer=row.customer, stage=stage.name, rep=row.rep_name or row.rep_id,
                           days=idle_days(row.last_update_at, at))


def _card(row: Stalled, stage: Stage, kind: str, at: datetime, tz: ZoneInfo) -> Card:
    data = {"opportunity": row.opportunity_id}
    fields = [(TEXT["stage"], stage.name), (TEXT["last_update"], row.last_update_at.astimezone(tz).strftime("%m-%d %H:%M"))]
    if kind == "stage_escalated":
        return Card(
            title=TEXT["escalated_title"], lines=[_body(row, stage, kind, at)],
            fields=[(TEXT["rep"], row.rep_name or row.rep_id or "")] + fields,
            buttons=[Button(TEXT["followed"], "lights:followed", data, "primary"),
                     Button(TEXT["talk"], "lights:talk", data)],
            link=(TEXT["dashboard"], f"{DASH}home"),
        )
    return Card(
        title=TEXT["yellow_title"], lines=[_body(row, stage, kind, at)], fields=fields,
        buttons=[Button(TEXT["update"], "progress:update", data, "primary"),
                 Button(TEXT["advance"], "lights:advance", data),
                 Button(TEXT["extend"], "lights:extend", data)],
    )
