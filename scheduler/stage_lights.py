"""Stage traffic-light sweep: yellow cards to reps, escalation cards to managers, once per stalled state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.cards import Button, Card
from bot.links import DASH
from rules.lights import first_change_days, idle_days, light, next_change
from rules.loader import RuleSet
from rules.schema import Stage
from scheduler.notify import Push, deliver
from store import alerts, sweep_rules
from store.opportunities import close_moved_warnings, lights_due, recompute_lights, store_lights

BATCH = 1000
KINDS = {"yellow": "stage_yellow", "escalated": "stage_escalated"}

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
    """Judges only the opportunities whose light changes by `at`, then raises and pushes the new warnings;
    returns pushes written. New rules (or none recorded yet) first recompute every stored light in a batch."""
    stages = {stage.name: stage for stage in rules.stages.stages}
    first = {stage.name: days for stage in rules.stages.stages if (days := first_change_days(stage)) is not None}
    if sweep_rules.changed(session, "stage_lights", _fingerprint(rules.stages.stages), at=at):
        recompute_lights(session, first, at=at)
    found: list[tuple[Stalled, Stage, str]] = []
    for due in lights_due(session, at=at, batch=BATCH):
        judged: list[tuple[int, str, datetime | None]] = []
        for *fields, stage_name, status in due:
            row, stage = Stalled(*fields), stages.get(stage_name) if status == "open" else None
            colour = light(stage, row.last_update_at, at)
            judged.append((row.opportunity_id, colour, next_change(stage, row.last_update_at, at)))
            if stage is not None and colour != "green":
                found.append((row, stage, KINDS[colour]))
        store_lights(session, judged)
        close_moved_warnings(session, [opportunity_id for opportunity_id, _, _ in judged], at=at)
    order = {name: n for n, name in enumerate(stages)}
    found.sort(key=lambda item: (order[item[1].name], item[2] != "stage_escalated", item[0].opportunity_id))
    raised = alerts.raise_many(session, [_alert(row, stage, kind, at) for row, stage, kind in found])
    pushes = [_push(row, stage, kind, at, tz) for row, stage, kind in found if _key(row, kind) in raised]
    return deliver(session, [p for p in pushes if p is not None], at=at, tz=tz, notify=rules.notify,
                   digest_title=TEXT["digest"])


def _fingerprint(stages: list[Stage]) -> str:
    """What the stored change instants depend on: each stage's thresholds."""
    return json.dumps([[stage.name, stage.yellow_days, stage.escalate_days] for stage in stages], ensure_ascii=False)


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
