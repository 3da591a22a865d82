"""Behavior sweeps: the weekly leaderboard to every team, and the task card for reps in their first month."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from bot.cards import Card, Reply, queue
from rules import behaviors as pricing
from rules.loader import RuleSet
from rules.notify import delivery_time
from store import behaviors as ledger
from store import users
from store.models import User

TEXT = {
    "board_title": "🏆 上周行为积分排行 · {label}",
    "onboarding_title": "🧭 新人行为导航",
    "onboarding_intro": "欢迎加入！入职首月完成以下任务，解锁「{unlocks}」：",
    "onboarding_line": "· {name} {progress}/{target}",
    "onboarding_note": "用「行为 <客户> <行为名>」记录，进度会自动更新。",
}


def leaderboard(session: Session, at: datetime, rules: RuleSet, tz: ZoneInfo) -> int:
    """Last week's TOP10 to each team member; a rep's card also carries their own rank, privately."""
    last_week = at.astimezone(tz).date() - timedelta(days=7)
    start, end, label = pricing.period("week", last_week, tz)
    due_at = delivery_time(at, tz, rules.notify)
    written = 0
    for team in users.teams(session):
        members = list(session.execute(select(User).where(User.team_id == team.id, User.active.is_(True))
                                       .order_by(User.id)).scalars())
        names = {u.id: u.name for u in members}
        standings = pricing.rank(ledger.totals(session, since=start, until=end, rep_ids=list(names)), names)
        lines = pricing.board_lines(standings, names)
        recipients = {u.id: u for u in members}
        if team.manager_id and team.manager_id not in recipients:
            manager = session.get(User, team.manager_id)
            if manager:
                recipients[manager.id] = manager
        for person in recipients.values():
            note = pricing.own_line(standings, person.id) if person.role == "rep" else None
            card = Card(title=TEXT["board_title"].format(label=label), lines=lines, note=note)
            written += bool(queue(session, Reply.show(card, to_user=person.id),
                                  dedupe_key=f"leaderboard:{team.id}:{label}:{person.id}", now=at, due_at=due_at))
    return written


def onboarding(session: Session, at: datetime, rules: RuleSet, tz: ZoneInfo) -> int:
    """Reps within their first `within_days` get their tasks created and shown once."""
    plan = rules.behaviors.onboarding
    today = at.astimezone(tz).date()
    new_reps = session.execute(select(User).where(
        User.role == "rep", User.active.is_(True), User.hired_on.is_not(None),
        User.hired_on >= today - timedelta(days=plan.within_days), User.hired_on <= today)).scalars()
    written = 0
    for rep in new_reps:
        tasks = ledger.ensure_onboarding(session, rep.id, [(t.code, t.name, t.target) for t in plan.tasks])
        if all(t.completed_at for t in tasks):
            continue
        card = Card(title=TEXT["onboarding_title"],
                    lines=[TEXT["onboarding_intro"].format(unlocks=plan.unlocks)] + [
                        TEXT["onboarding_line"].format(name=t.name, progress=t.progress, target=t.target)
                        for t in tasks],
                    note=TEXT["onboarding_note"])
        written += bool(queue(session, Reply.show(card, to_user=rep.id), dedupe_key=f"onboarding:{rep.id}:start",
                              now=at, due_at=delivery_time(at, tz, rules.notify)))
    return written
