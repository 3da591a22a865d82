"""Payment countdown sweep: remind before each due date; past it with no receipt, hold the rep's commission."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.cards import Button, Card
from rules.loader import RuleSet
from rules.money import yuan
from scheduler.notify import Push, deliver
from store import alerts, sweep_rules
from store.models import CommissionHold
from store.payments import judge_all_unpaid, manager_card_key, milestones_due, overdue_key, store_next_due

BATCH = 1000

TEXT = {
    "due_title": "💰 回款提醒",
    "due_body": "「{customer}」{label} {amount} 将于 {due} 到期（还有 {days} 天），收到后请录入回款。",
    "overdue_title": "⛔ 回款逾期：提成已暂扣",
    "overdue_body": "「{customer}」{label} {amount} 已于 {due} 到期，尚未录入回款凭证，已逾期 {days} 天。"
                    "下一阶段提成暂停发放，录入回款后自动解除。",
    "manager_body": "{rep} 的「{customer}」{label} {amount} 已逾期 {days} 天未回款，已暂扣其下一阶段提成。",
    "hold_reason": "「{customer}」{label} {due} 到期未回款",
    "record": "录入回款",
    "nudge": "提醒TA跟进",
    "due_line": "💰 {customer} · {label} · {due} 到期",
    "overdue_line": "⛔ {customer} · {label} · 逾期 {days} 天",
    "digest": "回款提醒",
}


@dataclass(frozen=True)
class Due:
    milestone_id: int
    label: str
    due_on: date
    amount: int
    opportunity_id: int
    customer_id: int
    customer: str
    rep_id: str | None
    rep_name: str | None
    manager_id: str | None


def run(session: Session, at: datetime, rules: RuleSet, tz: ZoneInfo) -> int:
    """Judges only the milestones whose next due instant has passed: a reminder before the due date, then an
    overdue notice and a commission hold. New rules (or none recorded yet) first make every unpaid one due."""
    today = at.astimezone(tz).date()
    remind = timedelta(days=rules.payments.remind_days_before)
    if sweep_rules.changed(session, "payments", json.dumps([remind.days, str(tz)]), at=at):
        judge_all_unpaid(session, at=at)
    items: list[Due] = []
    while due := milestones_due(session, at=at, limit=BATCH):
        judged: list[tuple[int, datetime | None]] = []
        for *fields, status, unpaid in due:
            item, live = Due(*fields), unpaid and status != "lost"
            judged.append((item.milestone_id, _next_due(item.due_on, today, remind, tz) if live else None))
            if live and item.rep_id and item.due_on <= today + remind:
                items.append(item)
        store_next_due(session, judged)
    items.sort(key=lambda item: (item.due_on, item.milestone_id))
    raised = alerts.raise_many(session, [_alert(item, today, at) for item in items])
    pushes: list[Push] = []
    for item in items:
        if _key(item, today) not in raised:
            continue
        if item.due_on < today:
            session.add(CommissionHold(rep_id=item.rep_id, milestone_id=item.milestone_id, placed_at=at,
                                       reason=_text("hold_reason", item, today)))
            pushes += _overdue_pushes(item, today)
        else:
            pushes.append(_reminder_push(item, today))
    return deliver(session, pushes, at=at, tz=tz, notify=rules.notify, digest_title=TEXT["digest"])


def _next_due(due_on: date, today: date, remind: timedelta, tz: ZoneInfo) -> datetime | None:
    """The next local midnight at which the milestone has something new to say: its reminder, then overdue."""
    upcoming = [day for day in (due_on - remind, due_on + timedelta(days=1)) if day > today]
    return datetime.combine(upcoming[0], time(), tzinfo=tz) if upcoming else None


def _key(item: Due, today: date) -> str:
    return overdue_key(item.milestone_id) if item.due_on < today else f"payment_due:{item.milestone_id}"


def _alert(item: Due, today: date, at: datetime) -> dict[str, object]:
    overdue = item.due_on < today
    return {"kind": "payment_overdue" if overdue else "payment_due", "level": "high" if overdue else "info",
            "dedupe_key": _key(item, today), "opportunity_id": item.opportunity_id, "customer_id": item.customer_id,
            "rep_id": item.rep_id, "manager_id": item.manager_id, "created_at": at, "resolved_at": None,
            "resolved_by": None, "message": _text("overdue_body" if overdue else "due_body", item, today)}


def _record_button(item: Due) -> Button:
    return Button(TEXT["record"], "payments:record", {"opportunity": item.opportunity_id}, "primary")


def _reminder_push(item: Due, today: date) -> Push:
    card = Card(title=TEXT["due_title"], lines=[_text("due_body", item, today)], buttons=[_record_button(item)])
    return Push(item.rep_id or "", _key(item, today), card, _text("due_line", item, today))


def _overdue_pushes(item: Due, today: date) -> list[Push]:
    key = _key(item, today)
    card = Card(title=TEXT["overdue_title"], lines=[_text("overdue_body", item, today)], buttons=[_record_button(item)])
    pushes = [Push(item.rep_id or "", key, card, _text("overdue_line", item, today))]
    if item.manager_id:
        nudge = Button(TEXT["nudge"], "payments:nudge", {"milestone": item.milestone_id})
        pushes.append(Push(item.manager_id, manager_card_key(item.milestone_id),
                           Card(title=TEXT["overdue_title"], lines=[_text("manager_body", item, today)],
                                buttons=[nudge]),
                           _text("overdue_line", item, today)))
    return pushes


def _text(name: str, item: Due, today: date) -> str:
    days = abs((item.due_on - today).days)
    return TEXT[name].format(customer=item.customer, label=item.label, amount=yuan(item.amount),
                             due=item.due_on.strftime("%m-%d"), days=days, rep=item.rep_name or item.rep_id)
