"""Forecast sweeps: the monthly prompt, period close with the deviation root cause, and customer company events."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.cards import Button, Card
from rules import forecast as judge
from rules.loader import RuleSet
from rules.money import yuan
from scheduler.notify import Push, deliver
from store import alerts
from store import forecast as store
from store.models import Customer, Forecast, Opportunity, Signal, StageChange

TEXT = {
    "prompt_title": "📈 {period} 销售预测",
    "prompt_intro": "请逐个商机选择「确定签约 / 乐观 / 不计入」，确定签约的需附至少 {n} 项可验证信号：",
    "prompt_start": "填报预测",
    "prompt_line": "📈 {period} 预测待填报（{n} 个商机）",
    "prompt_digest": "预测填报提醒",
    "report_title": "📉 《偏差根因报告》· {rep} · {period}",
    "report_summary": "预测（确定签约）{forecast}，实际成交 {actual}，偏差 {deviation:.0%}（阈值 {threshold:.0%}）。",
    "sections": {"signals": "信号缺失分析", "stages": "阶段判断失误点", "events": "客户动态漏报项",
                 "slipped": "滑单及原因"},
    "none": "无",
    "retro_note": "请完成复盘后点击「已复盘」；未确认前会在主管的待办汇总中持续列出。",
    "retro": "已复盘",
    "report_line": "📉 {rep} {period} 预测偏差 {deviation:.0%}，待复盘",
    "pending_line": "⏳ {rep} {period} 偏差复盘尚未确认",
    "pending_title": "⏳ 偏差复盘待确认",
    "pending_body": "{rep} 的 {period} 预测偏差复盘尚未确认（报告已于 {day} 发出）。",
    "close_digest": "预测偏差与复盘",
    "risk_title": "⚠️ 客户动态风险提示",
    "risk_body": "「{customer}」{kind}：{title} → {hint}",
    "risk_field": "商机",
    "risk_line": "⚠️ {customer} · {kind} → {hint}",
    "risk_digest": "客户动态风险提示",
}

DEVIATION = "forecast_deviation"
COMPANY_EVENT = "company_event"


# --- forecast_prompts -----------------------------------------------------------------------


def prompts(session: Session, at: datetime, rules: RuleSet, tz: ZoneInfo) -> int:
    """Each rep with late-stage opportunities and no forecast yet for the period gets the prompt card once."""
    period = judge.period_of(at.astimezone(tz).date(), rules.forecast)
    done = {f.rep_id for f in store.forecasts(session, period=period)}
    by_rep: dict[str, list[tuple[Opportunity, Customer]]] = defaultdict(list)
    for opportunity, customer in store.open_in_stages(session, rules.forecast.stages):
        if opportunity.owner_id not in done:
            by_rep[opportunity.owner_id or ""].append((opportunity, customer))
    pushes: list[Push] = []
    for rep, rows in by_rep.items():
        card = Card(title=TEXT["prompt_title"].format(period=period),
                    lines=[TEXT["prompt_intro"].format(n=rules.forecast.min_signals)]
                    + [judge.opportunity_line(c.name, o.stage, o.amount, o.expected_close) for o, c in rows],
                    buttons=[Button(TEXT["prompt_start"], "forecast:start", {}, "primary")])
        pushes.append(Push(rep, f"forecast_prompt:{rep}:{period}", card,
                           TEXT["prompt_line"].format(period=period, n=len(rows))))
    return deliver(session, pushes, at=at, tz=tz, notify=rules.notify, digest_title=TEXT["prompt_digest"])


# --- forecast_close -------------------------------------------------------------------------


def close(session: Session, at: datetime, rules: RuleSet, tz: ZoneInfo) -> int:
    """Closes every ended period: beyond the deviation threshold a root-cause report with a retrospective task.

    Unacknowledged retrospectives are listed again to the manager on each later run (one line a day).
    """
    names = store.people(session)
    pushes: list[Push] = []
    for forecast in store.forecasts(session, status="submitted"):
        start, end = judge.period_bounds(forecast.period, tz)
        if end > at or forecast.rep_id is None:
            continue
        forecast.status = "closed"
        session.add(forecast)
        pushes += _evaluate(session, forecast, start, end, at, rules, tz, names)
    pushes += _pending(session, at, tz, names)
    return deliver(session, pushes, at=at, tz=tz, notify=rules.notify, digest_title=TEXT["close_digest"])


def _evaluate(session: Session, forecast: Forecast, start: datetime, end: datetime, at: datetime, rules: RuleSet,
              tz: ZoneInfo, names: dict[str, tuple[str, str | None, str | None, str | None]]) -> list[Push]:
    assert forecast.id is not None and forecast.rep_id is not None
    planned = store.committed_totals(session, [forecast.id]).get(forecast.id, 0)
    won = store.won_deals(session, rep_id=forecast.rep_id, since=start, until=end)
    actual = sum(o.amount or 0 for o, _ in won)
    if not judge.off(planned, actual, rules.forecast):
        return []
    rep_name, _, _, manager = names.get(forecast.rep_id, (forecast.rep_id, None, None, None))
    key = f"{DEVIATION}:{forecast.id}"
    deviation = judge.deviation(planned, actual) or 0.0
    summary = TEXT["report_summary"].format(forecast=yuan(planned), actual=yuan(actual), deviation=deviation,
                                            threshold=rules.forecast.deviation)
    if not alerts.raise_many(session, [{
        "kind": DEVIATION, "level": "high", "dedupe_key": key, "opportunity_id": None, "customer_id": None,
        "rep_id": forecast.rep_id, "manager_id": manager, "message": f"{forecast.period} {summary}",
        "created_at": at, "resolved_at": None, "resolved_by": None,
    }]):
        return []
    report = _root_causes(session, forecast, won, start, end, at, rules, tz)
    lines = [summary]
    sections: dict[str, str] = TEXT["sections"]  # type: ignore[assignment]
    for section, title in sections.items():
        lines.append(f"【{title}】")
        lines += report[section] or [TEXT["none"]]
    title = TEXT["report_title"].format(rep=rep_name, period=forecast.period)
    line = TEXT["report_line"].format(rep=rep_name, period=forecast.period, deviation=deviation)
    pushes = [Push(forecast.rep_id, key, Card(title=title, lines=lines, note=TEXT["retro_note"], buttons=[
        Button(TEXT["retro"], "forecast:retro", {"key": key}, "primary")]), line)]
    if manager:
        pushes.append(Push(manager, f"{key}:manager", Card(title=title, lines=lines), line))
    return pushes


def _root_causes(session: Session, forecast: Forecast, won: list[tuple[Opportunity, str]], start: datetime,
                 end: datetime, at: datetime, rules: RuleSet, tz: ZoneInfo) -> dict[str, list[str]]:
    assert forecast.id is not None and forecast.submitted_at is not None
    submitted = forecast.submitted_at
    last = rules.forecast.stages[-1]
    outcomes: list[judge.Outcome] = []
    customers: dict[int, str] = {}
    committed: set[int] = set()
    for item, signals in store.items_of(session, [forecast.id]):
        opportunity = session.get(Opportunity, item.opportunity_id)
        if item.category != "commit" or opportunity is None:
            continue
        committed.add(opportunity.id or 0)
        name = _customer_name(session, opportunity)
        customers[opportunity.customer_id] = name
        entries = store.stage_entries(session, opportunity.id or 0, [s.name for s in rules.stages.stages])
        outcomes.append(judge.Outcome(
            customer=name, stage_at_submit=_stage_at(entries, submitted) or opportunity.stage,
            reached_last_stage=opportunity.status == "won" or any(
                e.to_stage == last and e.at < end for e in entries),
            won_in_period=opportunity.status == "won" and opportunity.closed_at is not None
            and start <= opportunity.closed_at < end,
            lost=opportunity.status == "lost", expected_close=item.expected_close,
            current_close=opportunity.expected_close, idle_days=max(0, (at - opportunity.last_update_at).days),
            valid_signals=len({s.type for s in signals if s.verified})))
    risky = set(rules.forecast.company_events.risk)
    news = [judge.CustomerNews(customers[e.customer_id], e.occurred_at.astimezone(tz).date(), f"{e.kind}：{e.title}")
            for e in store.events_between(session, list(customers), since=min(submitted, start), until=end)
            if e.kind in risky]
    unforecast = [(name, o.amount or 0) for o, name in won if o.id not in committed]
    return judge.root_causes(outcomes, news, unforecast, rules.forecast, period_end=end.astimezone(tz).date())


def _stage_at(entries: list[StageChange], moment: datetime) -> str | None:
    """The stage an opportunity was in at `moment` (entries newest first)."""
    return next((e.to_stage for e in entries if e.at <= moment), None)


def _customer_name(session: Session, opportunity: Opportunity) -> str:
    customer = session.get(Customer, opportunity.customer_id)
    return customer.name if customer else opportunity.name


def _pending(session: Session, at: datetime, tz: ZoneInfo,
             names: dict[str, tuple[str, str | None, str | None, str | None]]) -> list[Push]:
    today = at.astimezone(tz).date()
    pushes: list[Push] = []
    for alert in store.open_alerts(session, DEVIATION, before=at - timedelta(hours=12)):
        forecast = store.deviation_forecast(session, alert)
        if not alert.manager_id or alert.rep_id is None or forecast is None:
            continue
        rep = names.get(alert.rep_id, (alert.rep_id,))[0]
        card = Card(title=TEXT["pending_title"], lines=[TEXT["pending_body"].format(
            rep=rep, period=forecast.period, day=alert.created_at.astimezone(tz).strftime("%m-%d"))])
        pushes.append(Push(alert.manager_id, f"forecast_retro_pending:{alert.id}:{today.isoformat()}", card,
                           TEXT["pending_line"].format(rep=rep, period=forecast.period)))
    return pushes


# --- company_events -------------------------------------------------------------------------


def company_events(session: Session, at: datetime, rules: RuleSet, tz: ZoneInfo) -> int:
    """Reads CompanyEvent (filled by the bot-side fetch): risk hints to reps, positive events as system signals."""
    spec = rules.forecast.company_events
    found = store.recent_events(session, since=at - timedelta(days=spec.lookback_days),
                                kinds=[*spec.risk, *spec.positive])
    rows = [{"kind": COMPANY_EVENT, "level": "warning" if event.kind in spec.risk else "info",
             "dedupe_key": f"{COMPANY_EVENT}:{event.id}:{opportunity.id}", "opportunity_id": opportunity.id,
             "customer_id": customer.id, "rep_id": opportunity.owner_id, "manager_id": None,
             "message": f"{event.kind}：{event.title}", "created_at": at, "resolved_at": None, "resolved_by": None}
            for event, opportunity, customer in found]
    raised = alerts.raise_many(session, rows)
    pushes: list[Push] = []
    for event, opportunity, customer in found:
        key = f"{COMPANY_EVENT}:{event.id}:{opportunity.id}"
        if key not in raised:
            continue
        if event.kind in spec.positive:
            session.add(Signal(opportunity_id=opportunity.id, type=spec.positive[event.kind], source="system",
                               evidence={"company_event": event.id, "title": event.title},
                               observed_at=event.occurred_at, verified=True))
        elif opportunity.owner_id:
            values = {"customer": customer.name, "kind": event.kind, "title": event.title,
                      "hint": spec.risk[event.kind]}
            card = Card(title=TEXT["risk_title"], lines=[TEXT["risk_body"].format(**values)],
                        fields=[(TEXT["risk_field"], f"{customer.name} · {opportunity.stage}")])
            pushes.append(Push(opportunity.owner_id, key, card, TEXT["risk_line"].format(**values)))
    return deliver(session, pushes, at=at, tz=tz, notify=rules.notify, digest_title=TEXT["risk_digest"])
