"""Behavior pricing in chat: `行为`, the behavior question on every stage advance, `排行榜`, `兑换`, new-rep tasks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from rapidfuzz import fuzz

from bot.cards import Button, Card, Reply
from bot.events import Context, Event, Route, on_action, on_command
from handlers import customers
from handlers.flows import Data, answer_button
from handlers.groups import private_routes
from rules import behaviors as pricing
from rules.schema import Behavior, BehaviorVersion
from store import behaviors as ledger
from store import users
from store.models import Customer, Opportunity, Redemption, Reward, User

TEXT = {
    "log_usage": "行为 <客户> <行为名>",
    "log_help": "记录一次高价值销售行为（不推进阶段）",
    "log_format": "请按「行为 <客户> <行为名>」发送，如「行为 华东医疗 定制化解决方案」。",
    "which_behavior": "「{customer}」这次是哪类行为？",
    "which_behavior_line": "选择本次行动对应的行为，积分计入您的能力成长值；也可以直接回复行为名称，如「痛点访谈」。",
    "which_category": "「{customer}」这次是哪类行为？请先选类别。",
    "more": "其他行为…",
    "unknown_behavior": "没有「{name}」这个行为。",
    "logged": "✅ 已记录行为：{name} +{points} 分（{category}），绑定商机「{customer}」。本月累计 {month} 分。",
    "board_usage": "排行榜",
    "board_help": "查看本周/本月行为积分排行",
    "board_title": "🏆 行为积分排行榜 · {label}",
    "week": "本周",
    "month": "本月",
    "heatmap_team": "{team} 行为热力图（{label}）",
    "heatmap_mine": "我的行为热力图（{label}）",
    "redeem_usage": "兑换 <奖励>",
    "redeem_help": "用行为积分兑换奖励（需主管审批）",
    "redeem_format": "请按「兑换 <奖励>」发送。可兑换：{catalogue}",
    "unknown_reward": "没有「{name}」这个奖励。可兑换：{catalogue}",
    "short": "积分不足：当前可用 {balance} 分，兑换「{reward}」需要 {cost} 分。",
    "no_manager": "您还没有设置主管，无法提交兑换审批。请联系管理员。",
    "requested": "已提交兑换「{reward}」（{cost} 分）的申请，等待主管 {manager} 审批。可用积分暂扣为 {balance} 分。",
    "approve_title": "🎁 积分兑换审批",
    "approve_line": "{rep} 申请用 {cost} 分兑换「{reward}」，当前可用 {balance} 分。",
    "approve": "同意",
    "reject": "不同意",
    "approved_rep": "主管 {manager} 已同意您兑换「{reward}」。",
    "rejected_rep": "主管 {manager} 未同意您兑换「{reward}」，{cost} 分已退回。",
    "decided": "已处理：{answer}",
    "stale": "这个兑换申请已经处理过了。",
    "onboarding_done_rep": "🎉 恭喜完成新人行为导航任务，已解锁「{unlocks}」！",
    "onboarding_done_manager": "{rep} 已完成新人行为导航任务，解锁「{unlocks}」。",
}


LIKELY_SHOWN = 4  # behaviors on the first card, beside 其他行为… (WeCom cards take at most 6 buttons)
MORE = "*"  # the view listing the categories
BROWSE = "view:"  # an answer that moves the behavior card one step instead of choosing
NEAR_NAME = 70.0  # a typed name this close (rapidfuzz ratio) to one behavior's name means it…
NEAR_MARGIN = 8.0  # …when no other name is as close


def current_version(ctx: Context) -> BehaviorVersion:
    return ctx.rules.behaviors.version_at(ctx.today)


def find_behavior(version: BehaviorVersion, text: str, aliases: dict[str, str] | None = None) -> Behavior | None:
    """By code, name or alias (an onboarding task's name: 客户痛点访谈), a unique partial name, else the one near name
    clearly closer than the rest (痛点访谈 → 痛点深度访谈); a guess below NEAR_NAME is no answer."""
    text = text.strip().removesuffix(" +").strip()
    if not text:
        return None
    code = (aliases or {}).get(text)
    exact = next((b for b in version.behaviors if text in (b.code, b.name) or b.code == code), None)
    if exact:
        return exact
    partial = [b for b in version.behaviors if text in b.name or b.name in text]
    if len(partial) == 1:
        return partial[0]
    scored = sorted(((fuzz.ratio(text, b.name), b) for b in version.behaviors), key=lambda sb: -sb[0])
    best, runner_up = scored[0], scored[1] if len(scored) > 1 else (0.0, None)
    return best[1] if best[0] >= NEAR_NAME and best[0] - runner_up[0] >= NEAR_MARGIN else None


def task_aliases(ctx: Context) -> dict[str, str]:
    """New-rep task names → the behavior they count (the task says 客户痛点访谈, the value map 痛点深度访谈)."""
    onboarding = ctx.rules.behaviors.onboarding
    return {task.name: task.behavior for task in onboarding.tasks} if onboarding else {}


def record(ctx: Context, opportunity: Opportunity | None, behavior: Behavior | None) -> list[Reply]:
    """Logs the behavior under the current quarter's version and answers with the running total."""
    version = current_version(ctx)
    if behavior is None:
        return []
    types = ledger.ensure_types(ctx.session, version.quarter, [b.model_dump() for b in version.behaviors])
    ledger.log(ctx.session, rep_id=ctx.user.id, opportunity_id=opportunity.id if opportunity else None,
               behavior=types[behavior.code], at=ctx.now)
    start, end, _ = pricing.period("month", ctx.today, ctx.tz)
    month = sum(ledger.totals(ctx.session, since=start, until=end, rep_ids=[ctx.user.id]).get(ctx.user.id, {}).values())
    customer = ctx.session.get(Customer, opportunity.customer_id) if opportunity else None
    replies = [Reply.say(TEXT["logged"].format(name=behavior.name, points=behavior.points, category=behavior.category,
                                               customer=customer.name if customer else "-", month=month))]
    return replies + advance_onboarding(ctx)


def likely(ctx: Context, stage: str | None) -> list[Behavior]:
    """The few a rep most probably means: the stage's own behaviors, then the ones this rep logs most."""
    version = current_version(ctx)
    for_stage = ctx.rules.behaviors.stage_behaviors.get(stage or "", [])
    logged = ledger.count_logged(ctx.session, rep_id=ctx.user.id, codes=[b.code for b in version.behaviors])
    habits = sorted(logged, key=lambda code: -logged[code])
    codes = list(dict.fromkeys([*for_stage, *habits]))
    return [b for code in codes if (b := version.get(code))][:LIKELY_SHOWN]


def behavior_card(ctx: Context, customer: str, stage: str | None, view: str | None,
                  button: Callable[[Behavior], Button], browse: Callable[[str, str], Button]) -> Card:
    """A phone-sized choice in steps: the likely few and 其他行为…, then the categories, then one category's
    behaviors. `view` is None (the first step), MORE (the categories) or a category's name."""
    version = current_version(ctx)
    title, line = TEXT["which_behavior"].format(customer=customer), TEXT["which_behavior_line"]
    if view == MORE:
        categories = list(dict.fromkeys(b.category for b in version.behaviors))
        return Card(title=TEXT["which_category"].format(customer=customer), lines=[line],
                    buttons=[browse(c, c) for c in categories])
    if view:
        return Card(title=title, lines=[line], buttons=[button(b) for b in version.behaviors if b.category == view])
    return Card(title=title, lines=[line], buttons=[*map(button, likely(ctx, stage)), browse(MORE, TEXT["more"])])


class BehaviorStep:
    """The question every stage advance must answer before it completes (行为-商机双向绑定)."""

    name = "behavior"

    def __init__(self, flow: str) -> None:
        self.flow = flow

    def open(self, ctx: Context, data: Data) -> str | None:
        if "behaviors" not in ctx.modules:  # the question belongs to the behaviors module
            return None
        return None if data.get("behavior") else "choose"

    def ask(self, ctx: Context, data: Data, key: str) -> Card:
        answer = f"{self.name}:{key}"
        return behavior_card(ctx, data["customer"], data.get("to"), data.get("behavior_view"),
                             lambda b: answer_button(self.flow, answer, f"{b.name} +{b.points}", b.code),
                             lambda view, label: answer_button(self.flow, answer, label, BROWSE + view))

    def answer(self, ctx: Context, data: Data, key: str, value: str) -> str | None:
        if value.startswith(BROWSE):  # 其他行为… or a category: the same question, one step further
            data["behavior_view"] = value.removeprefix(BROWSE)
            return None
        behavior = find_behavior(current_version(ctx), value, task_aliases(ctx))
        if behavior is None:
            return TEXT["unknown_behavior"].format(name=value)
        data["behavior"] = behavior.code
        return None


def log_command(event: Event, ctx: Context) -> list[Reply]:
    head, _, name = ctx.args.rpartition(" ")
    if not head.strip():
        return [Reply.say(TEXT["log_format"])]
    customer = customers.resolve(ctx, head, pick_action="behaviors:pick", extra={"name": name})
    return customer if isinstance(customer, list) else _log_for(ctx, customer, name)


def picked_customer(event: Event, ctx: Context) -> list[Reply]:
    customer = customers.picked(ctx)
    return customer if isinstance(customer, list) else _log_for(ctx, customer, ctx.action_data.get("name", ""))


def _log_for(ctx: Context, customer: Customer, name: str) -> list[Reply]:
    opportunity = customers.opportunity_for(ctx, customer)
    if isinstance(opportunity, list):
        return opportunity
    behavior = find_behavior(current_version(ctx), name, task_aliases(ctx))
    if behavior is None:
        return [Reply.show(_log_card(ctx, customer, opportunity, None))]
    return record(ctx, opportunity, behavior)


def _log_card(ctx: Context, customer: Customer, opportunity: Opportunity, view: str | None) -> Card:
    return behavior_card(
        ctx, customer.name, opportunity.stage, view,
        lambda b: Button(f"{b.name} +{b.points}", "behaviors:log", {"opportunity": opportunity.id, "code": b.code}),
        lambda next_view, label: Button(label, "behaviors:browse", {"opportunity": opportunity.id, "view": next_view}))


def browse_button(event: Event, ctx: Context) -> list[Reply]:
    """其他行为… or a category on the `行为` card: the next step of the same choice."""
    opportunity = ctx.session.get(Opportunity, ctx.action_data.get("opportunity"))
    customer = ctx.session.get(Customer, opportunity.customer_id) if opportunity else None
    if opportunity is None or customer is None or opportunity.owner_id != ctx.user.id:
        return [Reply.say(TEXT["unknown_behavior"].format(name=ctx.action_data.get("view")))]
    return [Reply.show(_log_card(ctx, customer, opportunity, str(ctx.action_data.get("view") or "")))]


def log_button(event: Event, ctx: Context) -> list[Reply]:
    opportunity = ctx.session.get(Opportunity, ctx.action_data["opportunity"])
    behavior = current_version(ctx).get(ctx.action_data["code"])
    if opportunity is None or behavior is None or opportunity.owner_id != ctx.user.id:
        return [Reply.say(TEXT["unknown_behavior"].format(name=ctx.action_data.get("code")))]
    return record(ctx, opportunity, behavior)


# --- leaderboard ----------------------------------------------------------------------------


def board_card(ctx: Context, kind: str, members: list[User], viewer: User) -> Card:
    """TOP10 lines are public; the viewer's own rank and breakdown are added only on their own card."""
    start, end, label = pricing.period(kind, ctx.today, ctx.tz)
    names = {u.id: u.name for u in members}
    standings = pricing.rank(ledger.totals(ctx.session, since=start, until=end, rep_ids=list(names)), names)
    note = pricing.own_line(standings, viewer.id) if viewer.role == "rep" else None
    title_label = f"{TEXT['week' if kind == 'week' else 'month']} {label}"
    return Card(title=TEXT["board_title"].format(label=title_label), lines=pricing.board_lines(standings, names),
                note=note)


def heatmap(ctx: Context, members: list[User], viewer: User) -> Reply:
    """Managers see reps × categories for their team; a rep sees only their own days × categories."""
    start, end, label = pricing.period("month", ctx.today, ctx.tz)
    categories = sorted({b.category for b in current_version(ctx).behaviors})
    if viewer.role == "rep":
        days = [(start + timedelta(days=n)).date() for n in range((end - start).days)]
        grid = [[0] * len(categories) for _ in days]
        for at, category, points in ledger.by_day(ctx.session, rep_id=viewer.id, since=start, until=end):
            grid[(at.astimezone(ctx.tz).date() - days[0]).days][categories.index(category)] += points
        used = [i for i, row in enumerate(grid) if any(row)] or [days.index(ctx.today)]
        spec = {"type": "heatmap", "title": TEXT["heatmap_mine"].format(label=label), "columns": categories,
                "rows": [days[i].strftime("%m-%d") for i in used], "values": [grid[i] for i in used]}
    else:
        totals = ledger.totals(ctx.session, since=start, until=end, rep_ids=[u.id for u in members])
        reps = [u for u in members if u.role == "rep"]
        team = users.team_name(ctx.session, viewer) or ""
        spec = {"type": "heatmap", "title": TEXT["heatmap_team"].format(team=team, label=label),
                "columns": categories, "rows": [u.name for u in reps],
                "values": [[totals.get(u.id, {}).get(c, 0) for c in categories] for u in reps]}
    return Reply.picture(spec)


def board(event: Event, ctx: Context) -> list[Reply]:
    members = users.team_of(ctx.session, ctx.user)
    return [Reply.show(board_card(ctx, "week", members, ctx.user)),
            Reply.show(board_card(ctx, "month", members, ctx.user)),
            heatmap(ctx, members, ctx.user)]


# --- rewards --------------------------------------------------------------------------------


def _catalogue(ctx: Context) -> str:
    return "、".join(f"{r.name}（{r.cost} 分）" for r in ctx.rules.behaviors.rewards)


def redeem(event: Event, ctx: Context) -> list[Reply]:
    wanted = ctx.args.strip()
    if not wanted:
        return [Reply.say(TEXT["redeem_format"].format(catalogue=_catalogue(ctx)))]
    spec = next((r for r in ctx.rules.behaviors.rewards if wanted in (r.name, r.code) or wanted in r.name), None)
    if spec is None:
        return [Reply.say(TEXT["unknown_reward"].format(name=wanted, catalogue=_catalogue(ctx)))]
    balance = ledger.balance(ctx.session, ctx.user.id)
    if balance < spec.cost:
        return [Reply.say(TEXT["short"].format(balance=balance, reward=spec.name, cost=spec.cost))]
    manager = users.manager_of(ctx.session, ctx.user)
    if manager is None:
        return [Reply.say(TEXT["no_manager"])]
    reward = ledger.ensure_reward(ctx.session, code=spec.code, name=spec.name, cost=spec.cost)
    request = Redemption(rep_id=ctx.user.id, reward_id=reward.id, points=spec.cost, status="pending",
                         requested_at=ctx.now)
    ctx.session.add(request)
    ctx.session.flush()
    card = Card(title=TEXT["approve_title"],
                lines=[TEXT["approve_line"].format(rep=ctx.user.name, cost=spec.cost, reward=spec.name,
                                                   balance=balance)],
                buttons=[Button(TEXT["approve"], "rewards:approve", {"redemption": request.id}, "primary"),
                         Button(TEXT["reject"], "rewards:reject", {"redemption": request.id})])
    return [Reply.say(TEXT["requested"].format(reward=spec.name, cost=spec.cost, manager=manager.name,
                                               balance=balance - spec.cost)),
            Reply.show(card, to_user=manager.id)]


def decide(ctx: Context, approved: bool) -> list[Reply]:
    request = ctx.session.get(Redemption, ctx.action_data["redemption"])
    if request is None or request.status != "pending":
        return [Reply.say(TEXT["stale"])]
    reward = ctx.session.get(Reward, request.reward_id)
    assert reward is not None
    request.status, request.decided_at, request.decided_by = ("approved" if approved else "rejected"), ctx.now, \
        ctx.user.id
    ctx.session.add(request)
    template = TEXT["approved_rep"] if approved else TEXT["rejected_rep"]
    answer = TEXT["approve"] if approved else TEXT["reject"]
    return [Reply.update(Card(title=TEXT["approve_title"], lines=[TEXT["decided"].format(answer=answer)])),
            Reply.say(template.format(manager=ctx.user.name, reward=reward.name, cost=request.points),
                      to_user=request.rep_id)]


def approve(event: Event, ctx: Context) -> list[Reply]:
    return decide(ctx, approved=True)


def reject(event: Event, ctx: Context) -> list[Reply]:
    return decide(ctx, approved=False)


# --- new-rep task flow ----------------------------------------------------------------------


def advance_onboarding(ctx: Context) -> list[Reply]:
    """Counts the rep's matching behaviors into their tasks; completing the last one unlocks exactly once."""
    plan = ctx.rules.behaviors.onboarding
    tasks = ledger.onboarding_tasks(ctx.session, ctx.user.id)
    if not tasks or all(t.completed_at for t in tasks):
        return []
    counts = ledger.count_logged(ctx.session, rep_id=ctx.user.id, codes=[t.behavior for t in plan.tasks])
    by_code = {t.code: t for t in plan.tasks}
    for task in tasks:
        spec = by_code.get(task.code)
        if spec is not None:
            task.progress = min(task.target, counts.get(spec.behavior, 0))
            ctx.session.add(task)
    if not all(t.progress >= t.target for t in tasks):
        return []
    for task in tasks:
        task.completed_at = ctx.now
    replies = [Reply.say(TEXT["onboarding_done_rep"].format(unlocks=plan.unlocks))]
    manager = users.manager_of(ctx.session, ctx.user)
    if manager:
        replies.append(Reply.say(TEXT["onboarding_done_manager"].format(rep=ctx.user.name, unlocks=plan.unlocks),
                                 to_user=manager.id))
    return replies


ROUTES: list[Route] = private_routes([
    on_command("行为", log_command, usage=TEXT["log_usage"], help=TEXT["log_help"]),
    on_action("behaviors:pick", picked_customer),
    on_action("behaviors:log", log_button),
    on_action("behaviors:browse", browse_button),
    on_command("排行榜", board, usage=TEXT["board_usage"], help=TEXT["board_help"]),
    on_command("兑换", redeem, usage=TEXT["redeem_usage"], help=TEXT["redeem_help"]),
    on_action("rewards:approve", approve),
    on_action("rewards:reject", reject),
])
