"""Report sweeps: todo reminders on their due date, and each manager's daily value digest with a radar chart."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.cards import Button, Card, Reply, queue
from rules.loader import RuleSet
from rules.notify import delivery_time
from rules.reports import Outcome, Progress, advanced_within, is_valid_todo, progress, progress_by
from scheduler.notify import Push, deliver
from store import reports as store
from store import users
from store.models import DailyReport, User

METRIC_DAYS = 30  # the digest's metric looks back this far (reports whose window has closed)

TEXT = {
    "todo_title": "⏰ 待办到期",
    "todo_body": "{text}",
    "todo_customer": "客户",
    "todo_due": "截止",
    "todo_line": "⏰ {text}（{customer}）",
    "no_customer": "未关联客户",
    "done": "已完成",
    "todo_digest": "今日到期待办",
    "digest_title": "📊 {team} · 日报价值雷达 · {day}",
    "submitted": "提交",
    "submitted_value": "{n}/{reps} 人",
    "pinned": "📌 {rep} · {score} 分 · {tags} · {customers}",
    "plain": "· {rep} · {score} 分 · {tags}",
    "no_tags": "无高价值信息",
    "metric": "日报驱动客户进展",
    "metric_value": "含有效待办 {with_rate}（{with_adv}/{with_n}） vs 无 {without_rate}（{without_adv}/{without_n}）",
    "metric_rep": "{rep}：{value}",
    "no_rate": "—",
    "metric_note": "近 {days} 天日报中，客户 {window} 天内推进阶段的比例（取代“提交时间”考核）。",
    "radar_title": "{team} 日报价值雷达（{day}）",
    "digest": "团队日报汇总",
}


def todo_reminders(session: Session, at: datetime, rules: RuleSet, tz: ZoneInfo) -> int:
    """Each open todo is reminded once, on its due date (or at the first run after it, if one was missed)."""
    pushes = []
    for todo, customer in store.todos_due(session, at.astimezone(tz).date()):
        if todo.rep_id is None or todo.id is None:
            continue
        name = customer or TEXT["no_customer"]
        card = Card(title=TEXT["todo_title"], lines=[TEXT["todo_body"].format(text=todo.text)],
                    fields=[(TEXT["todo_customer"], name), (TEXT["todo_due"], str(todo.due_on))],
                    buttons=[Button(TEXT["done"], "reports:todo_done", {"todo": todo.id}, "primary")])
        pushes.append(Push(recipient=todo.rep_id, dedupe_key=f"todo_due:{todo.id}", card=card,
                           line=TEXT["todo_line"].format(text=todo.text, customer=name)))
        todo.reminded_at = at
        session.add(todo)
    return deliver(session, pushes, at=at, tz=tz, notify=rules.notify, digest_title=TEXT["todo_digest"])


def outcomes(session: Session, tz: ZoneInfo, rules: RuleSet, since: date, until: date,
             rep_ids: list[str] | None = None) -> list[tuple[DailyReport, Outcome]]:
    """Each report with whether it had valid todos and whether one of its customers advanced in the window."""
    reports = store.reports_between(session, since, until, rep_ids)
    days = rules.reports.progress_days
    moved = store.stage_days_by_customer(session, tz, datetime.combine(since, time.min, tz))
    teams = {u.id: users.team_name(session, u) for u in _people(session, {r.rep_id for r in reports})}
    return [(r, Outcome(rep=r.rep_id or "", team=teams.get(r.rep_id or ""),
                        has_valid_todos=any(is_valid_todo(t) for t in r.todos),
                        advanced=any(advanced_within(r.day, moved.get(c, []), days) for c in r.customers)))
            for r in reports]


def _people(session: Session, ids: set[str | None]) -> list[User]:
    return [u for u in (session.get(User, i) for i in ids if i) if u is not None]


def _rate(rate: float | None) -> str:
    return f"{rate:.0%}" if rate is not None else TEXT["no_rate"]


def metric_text(p: Progress) -> str:
    return TEXT["metric_value"].format(
        with_rate=_rate(p.with_todos.rate), with_adv=p.with_todos.advanced, with_n=p.with_todos.reports,
        without_rate=_rate(p.without_todos.rate), without_adv=p.without_todos.advanced,
        without_n=p.without_todos.reports)


def report_digest(session: Session, at: datetime, rules: RuleSet, tz: ZoneInfo) -> int:
    """One card per manager per day: high-value reports pinned, the replacement metric, and a radar image."""
    day = at.astimezone(tz).date()
    due_at = delivery_time(at, tz, rules.notify)
    written = 0
    for team in users.teams(session):
        manager = session.get(User, team.manager_id) if team.manager_id else None
        if manager is None:
            continue
        members = [u for u in users.team_of(session, manager) if u.role == "rep"]
        names = {u.id: u.name for u in members}
        today = store.reports_between(session, day, day, list(names))
        if not today:
            continue
        key = f"report_digest:{manager.id}:{day.isoformat()}"
        card = _digest_card(session, rules, tz, team.name, day, today, names)
        written += deliver(session, [Push(manager.id, key, card, card.title)], at=at, tz=tz, notify=rules.notify,
                           digest_title=TEXT["digest"])
        tags = [t.name for t in rules.reports.value_tags]
        radar = {"type": "radar", "title": TEXT["radar_title"].format(team=team.name, day=day.isoformat()),
                 "labels": tags, "series": {team.name: [sum(t in r.value_tags for r in today) for t in tags]}}
        written += 1 if queue(session, Reply.picture(radar, to_user=manager.id), dedupe_key=f"{key}:radar", now=at,
                              due_at=due_at) else 0
    return written


def _digest_card(session: Session, rules: RuleSet, tz: ZoneInfo, team: str, day: date, today: list[DailyReport],
                 names: dict[str, str]) -> Card:
    ranked = sorted(today, key=lambda r: (-r.value_score, r.rep_id or ""))
    lines = []
    for r in ranked:
        tags = "、".join(r.value_tags) or TEXT["no_tags"]
        template = TEXT["pinned"] if r.value_score >= rules.reports.pin_from else TEXT["plain"]
        lines.append(template.format(rep=names.get(r.rep_id or "", r.rep_id), score=r.value_score, tags=tags,
                                     customers="、".join(r.customers)))
    window = rules.reports.progress_days
    until = day - timedelta(days=window)
    closed = [o for _, o in outcomes(session, tz, rules, until - timedelta(days=METRIC_DAYS), until, list(names))]
    per_rep = progress_by(closed, lambda o: o.rep)
    lines += [TEXT["metric_rep"].format(rep=names[rep], value=metric_text(p)) for rep, p in sorted(per_rep.items())]
    return Card(
        title=TEXT["digest_title"].format(team=team, day=day.isoformat()[5:]), lines=lines,
        fields=[(TEXT["submitted"], TEXT["submitted_value"].format(n=len(today), reps=len(names))),
                (TEXT["metric"], metric_text(progress(closed)))],
        note=TEXT["metric_note"].format(days=METRIC_DAYS, window=window),
    )
