"""`预测`: the monthly forecast with verified signals, the similarity answer, `预测看板`, and `已复盘`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.cards import Button, Card, Reply
from bot.events import Context, Event, Route, on_action, on_command
from handlers.flows import Data, Flow
from handlers.groups import private_routes
from nlp.amounts import parse_amount
from nlp.dates import resolve as resolve_date
from rules import forecast as judge
from rules.loader import RuleSet
from rules.money import yuan
from rules.schema import SignalRule
from store import access, alerts, users
from store import forecast as store
from store.models import ForecastItem, Opportunity, Signal, User

TEXT = {
    "usage": "预测",
    "help": "填报本期销售预测（确定签约需附至少 2 项可验证信号）",
    "board_usage": "预测看板",
    "board_help": "查看预测健康度：信号支撑占比、信号时效性、历史准确率",
    "none": "您目前没有处于「{stages}」阶段的进行中商机，本期无需填报预测。",
    "title": "📈 {period} 预测 · {customer}（{n}/{total}）",
    "category_prompt": "这个商机本期如何预测？",
    "categories": {"commit": "确定签约", "best": "乐观", "omit": "不计入"},
    "category_unclear": "请点「确定签约」「乐观」或「不计入」。",
    "amount_prompt": "请回复「{customer}」的预测签约金额（如 80万）。",
    "amount_default": "按商机金额 {amount}",
    "amount_unclear": "没看懂金额，请回复如「80万」「1200000元」。",
    "close_prompt": "请回复「{customer}」的预计签约日期（如 1月15日、下周五）。",
    "close_unclear": "没看懂日期，请回复如「1月15日」「2027-01-15」「下周五」。",
    "signal_prompt": "「确定签约」需至少 {n} 项可验证信号，请选择一项（已有 {have} 项）：",
    "signal_have": "已有：{items}",
    "signal_none": "没有更多信号",
    "signal_unclear": "请点选一个信号类型，或点「没有更多信号」。",
    "evidence_prompt": "请提供「{signal}」的证据：发送链接、文件名或一句话说明（可接受：{kinds}）。",
    "evidence_system": "由系统查找",
    "evidence_not_found": "系统没有找到「{signal}」的记录，请发送链接、文件名或说明。",
    "evidence_empty": "证据不能为空，请发送链接、文件名或一句话说明。",
    "note": "发送「取消」可随时退出，已填内容不保存。",
    "kinds": {"link": "链接", "file": "文件", "message": "消息", "system": "系统记录"},
    "sources": {"stage": "阶段变更", "touch": "触达记录", "company_event": "客户动态", "similarity": "历史相似案例"},
    "saved_title": "✅ {period} 预测已提交",
    "item": "· {customer} · {category} · {amount} · 预计 {close} · 有效信号 {valid} 项{risk}",
    "risk": " · ⚠️{risk}",
    "lift": "「{customer}」补充以下任一证据可解除高风险：{lifters}",
    "invalid": "「{customer}」{signal}不计入：{reason}",
    "total": "确定签约合计 {amount}，其中高风险 {risky} 项",
    "rollup_title": "📈 {rep} 提交了 {period} 预测",
    "similar_exact": "同行业同预算同决策链{n}个成交案例平均签约周期 {mean}±{spread} 天，本商机已进行 {elapsed} 天",
    "similar_near": "最相近的{n}个成交案例平均签约周期 {mean}±{spread} 天，本商机已进行 {elapsed} 天",
    "similar_none": "过去 {years} 年没有可比的成交案例",
    "board_title": "📊 预测健康度看板 · {period}",
    "board_head": "维度 · 名称：信号支撑占比 / 72小时内更新率 / 近3月准确率 / 近6月准确率",
    "board_line": "{scope} · {name}：{backed} / {fresh} / {acc3} / {acc6}",
    "scopes": {"rep": "销售", "team": "团队", "region": "区域"},
    "dash": "—",
    "retro_done": "✅ 已确认复盘，复盘任务已关闭。",
    "retro_manager": "{rep} 已确认完成 {period} 预测偏差复盘。",
    "retro_stale": "这个复盘任务已确认过或不属于您。",
}

FLOW = "forecast"
CATEGORY_WORDS = {"commit": "commit 确定 确定签约", "best": "best 乐观", "omit": "omit 不计入 不预测"}
NONE = "none"
SYSTEM = "system"


# --- system-found evidence and similarity ---------------------------------------------------


def expected_cycle(session: Session, opportunity: Opportunity, rules: RuleSet, at: datetime) -> judge.Cycle | None:
    """Closed-won deals of the lookback window like this one: exact matches, else the nearest by distance.

    The candidate set is narrowed in SQL only as far as is safe: to industry and band while that yields enough
    exact matches, to the industry while any same-industry deal is nearer than any other (industry weight ≥ band
    weight + chain weight, the default), else the whole window.
    """
    spec = rules.forecast.similarity
    since = at - timedelta(days=365 * spec.lookback_years)
    target = judge.Deal(opportunity.industry, opportunity.budget_band, judge.structure(opportunity.decision_chain))
    narrowings: list[dict[str, str | None]] = [{"industry": target.industry, "band": target.band}]
    if spec.industry_weight >= spec.band_weight + spec.chain_weight:
        narrowings.append({"industry": target.industry})
    history: list[judge.Deal] = []
    for narrowing in [*narrowings, {}]:
        history = [judge.Deal(industry, band, judge.structure(chain or []), (closed - created).days)
                   for created, closed, industry, band, chain in store.closed_won(session, since=since, **narrowing)
                   if created and closed]
        enough = [d for d in history if d.structure == target.structure] if "band" in narrowing else history
        if len(enough) >= spec.min_cases:
            break
    return judge.cycle(target, history, [b.name for b in rules.leads.budget_bands], spec)


def similarity_line(found: judge.Cycle | None, elapsed: int, rules: RuleSet) -> str:
    if found is None:
        return TEXT["similar_none"].format(years=rules.forecast.similarity.lookback_years)
    template = TEXT["similar_exact"] if found.exact else TEXT["similar_near"]
    return template.format(n=found.n, mean=found.mean, spread=found.spread, elapsed=elapsed)


def elapsed_days(opportunity: Opportunity, today: date, ctx: Context) -> int:
    created = opportunity.created_at or opportunity.stage_entered_at
    return max(0, (today - created.astimezone(ctx.tz).date()).days) if created else 0


def system_evidence(ctx: Context, opportunity: Opportunity, rule: SignalRule,
                    close: date | None) -> dict[str, Any] | None:
    """The newest record the bot can vouch for itself: a stage entry, a touch, a company event, the history."""
    found: list[dict[str, Any]] = []
    if rule.stages:
        found += [{"source": "stage", "stage_change": e.id, "to": e.to_stage, "at": e.at.isoformat()}
                  for e in store.stage_entries(ctx.session, opportunity.id or 0, rule.stages)]
    if rule.touches:
        found += [{"source": "touch", "touch": t.id, "kind": t.kind, "at": t.at.isoformat()}
                  for t in store.touches_of(ctx.session, opportunity, rule.touches)]
    found += [{"source": "company_event", **s.evidence, "at": s.observed_at.isoformat()}
              for s in store.candidate_signals(ctx.session, opportunity.id or 0, rule.code)]
    if rule.similarity and close is not None:
        cycle = expected_cycle(ctx.session, opportunity, ctx.rules, ctx.now)
        elapsed = elapsed_days(opportunity, ctx.today, ctx)
        if cycle is not None and judge.fits(cycle, elapsed, (close - ctx.today).days):
            found.append({"source": "similarity", "mean": cycle.mean, "spread": cycle.spread, "n": cycle.n,
                          "at": ctx.now.isoformat()})
    return max(found, key=lambda e: datetime.fromisoformat(e["at"])) if found else None


def _system_signals(ctx: Context, opportunity: Opportunity, close: date | None) -> list[dict[str, Any]]:
    return [{"type": rule.code, "source": SYSTEM, "kind": SYSTEM, "evidence": evidence, "at": evidence["at"]}
            for rule in ctx.rules.forecast.signals if "system" in rule.asserted_by
            if (evidence := system_evidence(ctx, opportunity, rule, close)) is not None]


def _claim(signal: dict[str, Any]) -> judge.Claim:
    return judge.Claim(signal["type"], signal["source"], signal["kind"], datetime.fromisoformat(signal["at"]))


def _valid(ctx: Context, signals: Sequence[dict[str, Any]]) -> set[str]:
    return {s["type"] for s in signals if judge.verify(_claim(s), ctx.rules.forecast, ctx.now).valid}


def _name(ctx: Context, code: str) -> str:
    rule = ctx.rules.forecast.signal(code)
    return rule.name if rule else code


# --- the dialog -----------------------------------------------------------------------------


def _card(ctx: Context, data: Data, i: int, lines: list[str], buttons: list[Button]) -> Card:
    item = data["items"][i]
    return Card(title=TEXT["title"].format(period=data["period"], customer=item["customer"], n=i + 1,
                                           total=len(data["items"])),
                lines=lines, buttons=buttons, note=TEXT["note"])


def _first(data: Data, wanted: Callable[[Data], Any]) -> str | None:
    return next((str(i) for i, item in enumerate(data["items"]) if wanted(item)), None)


class CategoryStep:
    name = "category"

    def open(self, ctx: Context, data: Data) -> str | None:
        return _first(data, lambda item: item["category"] is None)

    def ask(self, ctx: Context, data: Data, key: str) -> Card:
        i = int(key)
        listing = [("👉 " if n == i else "") + item["line"] for n, item in enumerate(data["items"])]
        labels: dict[str, str] = TEXT["categories"]  # type: ignore[assignment]
        return _card(ctx, data, i, [TEXT["category_prompt"], *listing],
                     [FORECAST.button(f"{self.name}:{key}", label, code, "primary" if code == "commit" else "default")
                      for code, label in labels.items()])

    def answer(self, ctx: Context, data: Data, key: str, value: str) -> str | None:
        code = next((c for c, words in CATEGORY_WORDS.items() if value.strip() in words.split()), None)
        if code is None:
            return TEXT["category_unclear"]
        data["items"][int(key)]["category"] = code
        return None


class AmountStep:
    name = "amount"

    def open(self, ctx: Context, data: Data) -> str | None:
        return _first(data, lambda item: item["category"] in ("commit", "best") and item["amount"] is None)

    def ask(self, ctx: Context, data: Data, key: str) -> Card:
        item = data["items"][int(key)]
        default = item["default_amount"]
        buttons = [FORECAST.button(f"{self.name}:{key}", TEXT["amount_default"].format(amount=yuan(default)),
                                   str(default))] if default else []
        return _card(ctx, data, int(key), [TEXT["amount_prompt"].format(customer=item["customer"])], buttons)

    def answer(self, ctx: Context, data: Data, key: str, value: str) -> str | None:
        amount = parse_amount(value)
        if amount is None:
            return TEXT["amount_unclear"]
        data["items"][int(key)]["amount"] = amount
        return None


class CloseStep:
    name = "close"

    def open(self, ctx: Context, data: Data) -> str | None:
        return _first(data, lambda item: item["category"] in ("commit", "best") and item["close"] is None)

    def ask(self, ctx: Context, data: Data, key: str) -> Card:
        item = data["items"][int(key)]
        default = item["default_close"]
        buttons = [FORECAST.button(f"{self.name}:{key}", default, default)] if default else []
        return _card(ctx, data, int(key), [TEXT["close_prompt"].format(customer=item["customer"])], buttons)

    def answer(self, ctx: Context, data: Data, key: str, value: str) -> str | None:
        day = resolve_date(value, ctx.today)
        if day is None:
            return TEXT["close_unclear"]
        item = data["items"][int(key)]
        item["close"] = day.isoformat()
        opportunity = ctx.session.get(Opportunity, item["opportunity"])
        if item["category"] == "commit" and opportunity is not None:  # what the bot vouches for needs no question
            item["signals"] = _system_signals(ctx, opportunity, day)
        return None


def _needs_signal(ctx: Context, item: Data) -> bool:
    return item["category"] == "commit" and not item["done"] and not item["pending"] and \
        len(_valid(ctx, item["signals"])) < ctx.rules.forecast.min_signals


class SignalStep:
    """Committed items: signal types until enough are valid (system-found ones, added with the close date, count)."""

    name = "signal"

    def open(self, ctx: Context, data: Data) -> str | None:
        return _first(data, lambda item: _needs_signal(ctx, item))

    def ask(self, ctx: Context, data: Data, key: str) -> Card:
        item = data["items"][int(key)]
        chosen = {s["type"] for s in item["signals"]}
        have = [f"{_name(ctx, s['type'])}（{self._label(s)}）" for s in item["signals"]]
        lines = [TEXT["signal_prompt"].format(n=ctx.rules.forecast.min_signals, have=len(_valid(ctx, item["signals"])))]
        lines += [TEXT["signal_have"].format(items="；".join(have))] if have else []
        buttons = [FORECAST.button(f"{self.name}:{key}", s.name, s.code) for s in ctx.rules.forecast.signals
                   if "rep" in s.asserted_by and s.code not in chosen]
        return _card(ctx, data, int(key), lines, [*buttons, FORECAST.button(f"{self.name}:{key}",
                                                                            TEXT["signal_none"], NONE)])

    @staticmethod
    def _label(signal: dict[str, Any]) -> str:
        sources: dict[str, str] = TEXT["sources"]  # type: ignore[assignment]
        kinds: dict[str, str] = TEXT["kinds"]  # type: ignore[assignment]
        return sources.get(signal["evidence"].get("source", ""), kinds[signal["kind"]])

    def answer(self, ctx: Context, data: Data, key: str, value: str) -> str | None:
        item = data["items"][int(key)]
        if value.strip() in (NONE, TEXT["signal_none"]):
            item["done"] = True
            return None
        rule = next((s for s in ctx.rules.forecast.signals if value.strip() in (s.code, s.name)), None)
        if rule is None or "rep" not in rule.asserted_by:
            return TEXT["signal_unclear"]
        item["pending"] = rule.code
        return None


class EvidenceStep:
    name = "evidence"

    def open(self, ctx: Context, data: Data) -> str | None:
        return _first(data, lambda item: item["pending"])

    def ask(self, ctx: Context, data: Data, key: str) -> Card:
        rule = ctx.rules.forecast.signal(data["items"][int(key)]["pending"])
        assert rule is not None
        kinds: dict[str, str] = TEXT["kinds"]  # type: ignore[assignment]
        buttons = [FORECAST.button(f"{self.name}:{key}", TEXT["evidence_system"], SYSTEM)] if \
            "system" in rule.asserted_by else []
        return _card(ctx, data, int(key), [TEXT["evidence_prompt"].format(
            signal=rule.name, kinds="/".join(kinds[k] for k in rule.evidence))], buttons)

    def answer(self, ctx: Context, data: Data, key: str, value: str) -> str | None:
        item = data["items"][int(key)]
        rule = ctx.rules.forecast.signal(item["pending"])
        assert rule is not None
        if value.strip() == SYSTEM:
            opportunity = ctx.session.get(Opportunity, item["opportunity"])
            found = system_evidence(ctx, opportunity, rule, date.fromisoformat(item["close"])) if opportunity \
                else None
            if found is None:
                return TEXT["evidence_not_found"].format(signal=rule.name)
            item["signals"].append({"type": rule.code, "source": SYSTEM, "kind": SYSTEM, "evidence": found,
                                    "at": found["at"]})
        else:
            if not value.strip():
                return TEXT["evidence_empty"]
            kind, ref = judge.evidence_of(value)
            item["signals"].append({"type": rule.code, "source": "rep", "kind": kind,
                                    "evidence": {"kind": kind, "ref": ref}, "at": ctx.now.isoformat()})
        item["pending"] = None
        return None


def finish(ctx: Context, data: Data) -> list[Reply]:
    """Saves the forecast with every signal judged, tells the rep what lifts a 高风险, rolls it up to the manager."""
    forecast = store.replace_forecast(ctx.session, rep_id=ctx.user.id, period=data["period"], at=ctx.now)
    lines: list[str] = []
    notes: list[str] = []
    risky_rows: list[dict[str, Any]] = []
    committed = 0
    for entry in data["items"]:
        item = ForecastItem(forecast_id=forecast.id or 0, opportunity_id=entry["opportunity"],
                            category=entry["category"], amount=entry["amount"],
                            expected_close=date.fromisoformat(entry["close"]) if entry["close"] else None)
        ctx.session.add(item)
        ctx.session.flush()
        valid: set[str] = set()
        for signal in entry["signals"]:
            verdict = judge.verify(_claim(signal), ctx.rules.forecast, ctx.now)
            ctx.session.add(Signal(opportunity_id=entry["opportunity"], forecast_item_id=item.id, type=signal["type"],
                                   source=signal["source"], evidence=signal["evidence"],
                                   observed_at=datetime.fromisoformat(signal["at"]), verified=verdict.valid,
                                   reason=verdict.reason))
            if verdict.valid:
                valid.add(signal["type"])
            else:
                notes.append(TEXT["invalid"].format(customer=entry["customer"], signal=_name(ctx, signal["type"]),
                                                    reason=verdict.reason))
        if entry["category"] == "commit":
            committed += entry["amount"] or 0
            item.risk = judge.risk(valid, ctx.rules.forecast)
            if item.risk:
                notes.append(TEXT["lift"].format(customer=entry["customer"],
                                                 lifters="、".join(judge.lifters(valid, ctx.rules.forecast))))
                risky_rows.append(_risk_alert(ctx, item, entry))
            notes += _similarity_note(ctx, entry)
        lines.append(_item_line(entry, item, len(valid)))
    alerts.raise_many(ctx.session, risky_rows)
    total = TEXT["total"].format(amount=yuan(committed), risky=len(risky_rows))
    replies = [Reply.show(Card(title=TEXT["saved_title"].format(period=data["period"]), lines=[*lines, total, *notes]))]
    manager = users.manager_of(ctx.session, ctx.user)
    if manager is not None:
        replies.append(Reply.show(Card(title=TEXT["rollup_title"].format(rep=ctx.user.name, period=data["period"]),
                                       lines=[*lines, total]), to_user=manager.id))
    return replies


def _item_line(entry: Data, item: ForecastItem, valid: int) -> str:
    labels: dict[str, str] = TEXT["categories"]  # type: ignore[assignment]
    return TEXT["item"].format(customer=entry["customer"], category=labels[entry["category"]],
                               amount=yuan(entry["amount"]) if entry["amount"] else TEXT["dash"],
                               close=entry["close"] or TEXT["dash"], valid=valid,
                               risk=TEXT["risk"].format(risk=item.risk) if item.risk else "")


def _risk_alert(ctx: Context, item: ForecastItem, entry: Data) -> dict[str, Any]:
    manager = users.manager_of(ctx.session, ctx.user)
    opportunity = ctx.session.get(Opportunity, entry["opportunity"])
    return {"kind": "forecast_high_risk", "level": "warning", "dedupe_key": f"forecast_high_risk:{item.id}",
            "opportunity_id": entry["opportunity"], "customer_id": opportunity.customer_id if opportunity else None,
            "rep_id": ctx.user.id, "manager_id": manager.id if manager else None,
            "message": f"{entry['customer']} {item.risk}", "created_at": ctx.now, "resolved_at": None,
            "resolved_by": None}


def _similarity_note(ctx: Context, entry: Data) -> list[str]:
    """Only for a close forecast within the horizon (15 days by default)."""
    close = date.fromisoformat(entry["close"])
    opportunity = ctx.session.get(Opportunity, entry["opportunity"])
    if opportunity is None or (close - ctx.today).days > ctx.rules.forecast.similarity.horizon_days:
        return []
    found = expected_cycle(ctx.session, opportunity, ctx.rules, ctx.now)
    return [f"「{entry['customer']}」" + similarity_line(found, elapsed_days(opportunity, ctx.today, ctx), ctx.rules)]


FORECAST = Flow(FLOW, [CategoryStep(), AmountStep(), CloseStep(), SignalStep(), EvidenceStep()], finish)


def start(event: Event, ctx: Context) -> list[Reply]:
    rows = store.open_in_stages(ctx.session, ctx.rules.forecast.stages, rep_id=ctx.user.id)
    if not rows:
        return [Reply.say(TEXT["none"].format(stages="/".join(ctx.rules.forecast.stages)))]
    items = [{"opportunity": o.id, "customer": c.name, "line": judge.opportunity_line(c.name, o.stage, o.amount,
                                                                                      o.expected_close),
              "default_amount": o.amount, "default_close": o.expected_close.isoformat() if o.expected_close else None,
              "category": None, "amount": None, "close": None, "signals": [], "pending": None, "done": False}
             for o, c in rows]
    ctx.dialog = None
    return FORECAST.proceed(ctx, {"period": judge.period_of(ctx.today, ctx.rules.forecast), "items": items})


# --- the health board -----------------------------------------------------------------------


def board_figures(session: Session, at: datetime, rules: RuleSet, tz: ZoneInfo,
                  viewer: User) -> list[tuple[str, str, judge.Figures]]:
    """(scope, name, figures) by rep, team and region over what the viewer may see, for the current period."""
    period = judge.period_of(at.astimezone(tz).date(), rules.forecast)
    visible = access.reps_in_scope(session, viewer)
    people = store.people(session)
    reps = [f.rep_id for f in store.forecasts(session) if f.rep_id and (visible is None or f.rep_id in visible)]
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rep in set(reps):
        name, team, region, _ = people.get(rep, (rep, None, None, None))
        groups[("rep", name)].add(rep)
        groups[("team", team or TEXT["dash"])].add(rep)
        groups[("region", region or TEXT["dash"])].add(rep)
    current = store.forecasts(session, period=period)
    facts: dict[str, list[judge.ItemFacts]] = defaultdict(list)
    for forecast in current:
        for item, signals in store.items_of(session, [forecast.id or 0]):
            if item.category == "commit" and forecast.rep_id:
                facts[forecast.rep_id].append(judge.ItemFacts(item.amount or 0, len({s.type for s in signals
                                                                                       if s.verified}),
                                                              tuple(s.observed_at for s in signals)))
    history = _history(session, period, tz)
    out: list[tuple[str, str, judge.Figures]] = []
    for (scope, name), members in sorted(groups.items(), key=lambda g: (["rep", "team", "region"].index(g[0][0]),
                                                                        g[0][1])):
        merged: dict[str, tuple[int, int]] = {}
        for p in {p for rep in members for p in history.get(rep, {})}:
            pairs = [history[rep][p] for rep in members if p in history.get(rep, {})]
            merged[p] = (sum(f for f, _ in pairs), sum(a for _, a in pairs))
        out.append((scope, name, judge.figures([f for rep in members for f in facts[rep]], merged, period, at,
                                               rules.forecast)))
    return out


def _history(session: Session, period: str, tz: ZoneInfo) -> dict[str, dict[str, tuple[int, int]]]:
    """rep → closed period → (committed forecast, won actual), for the six periods before `period`."""
    wanted = judge.previous_periods(period, 6)
    closed = [f for f in store.forecasts(session, status="closed") if f.period in wanted]
    planned = store.committed_totals(session, [f.id or 0 for f in closed])
    won = {p: store.won_totals(session, since=judge.period_bounds(p, tz)[0], until=judge.period_bounds(p, tz)[1])
           for p in {f.period for f in closed}}
    out: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for f in closed:
        if f.rep_id:
            out[f.rep_id][f.period] = (planned.get(f.id or 0, 0), won[f.period].get(f.rep_id, 0))
    return out


def _share(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else TEXT["dash"]


def board(event: Event, ctx: Context) -> list[Reply]:
    scopes: dict[str, str] = TEXT["scopes"]  # type: ignore[assignment]
    rows = board_figures(ctx.session, ctx.now, ctx.rules, ctx.tz, ctx.user)
    lines = [TEXT["board_head"]] + [
        TEXT["board_line"].format(scope=scopes[scope], name=name, backed=_share(f.backed), fresh=_share(f.fresh),
                                  acc3=_share(f.accuracy_3), acc6=_share(f.accuracy_6)) for scope, name, f in rows]
    period = judge.period_of(ctx.today, ctx.rules.forecast)
    return [Reply.show(Card(title=TEXT["board_title"].format(period=period), lines=lines))]


# --- the retrospective ----------------------------------------------------------------------


def retrospective_done(event: Event, ctx: Context) -> list[Reply]:
    alert = store.alert_by_key(ctx.session, str(ctx.action_data.get("key", "")))
    if alert is None or alert.rep_id != ctx.user.id or alert.resolved_at is not None:
        return [Reply.say(TEXT["retro_stale"])]
    alerts.resolve(ctx.session, [alert.id or 0], at=ctx.now, by=ctx.user.id)
    replies = [Reply.say(TEXT["retro_done"])]
    forecast = store.deviation_forecast(ctx.session, alert)
    if alert.manager_id and forecast is not None:
        replies.append(Reply.say(TEXT["retro_manager"].format(rep=ctx.user.name, period=forecast.period),
                                 to_user=alert.manager_id))
    return replies


ROUTES: list[Route] = private_routes([
    on_command("预测", start, usage=TEXT["usage"], help=TEXT["help"]),
    on_command("预测看板", board, usage=TEXT["board_usage"], help=TEXT["board_help"]),
    on_action("forecast:start", start),
    on_action("forecast:retro", retrospective_done),
    *FORECAST.routes(),
])
