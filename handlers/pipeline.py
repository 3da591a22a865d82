"""Answers to the stage-light cards: update progress, ask for an extension, managers following up."""

from __future__ import annotations

from bot.cards import Button, Card, Reply
from bot.events import Context, Event, Route, on_action
from handlers.groups import private_routes
from store import alerts, users
from store.models import Customer, Opportunity, User
from store.opportunities import STAGE_ALERTS, open_opportunity, record_update

TEXT = {
    "advance_title": "推进「{customer}」",
    "advancing_title": "🟡 「{customer}」推进中",
    "advancing_line": "已在新卡片中选择要推进到的阶段；推进前也可以先更新进展或申请延期。",
    "update": "更新进展",
    "extend": "申请延期",
    "advance_line": "当前阶段：{stage}。要推进到哪个阶段？（缺的必填项和本次行为会接着问）",
    "extend_sent": "已向主管 {manager} 提交延期申请。",
    "no_manager": "您还没有设置主管，无法申请延期。请联系管理员。",
    "extend_title": "⏳ 延期申请",
    "extend_body": "{rep} 申请「{customer}」{name} 在「{stage}」阶段延期跟进。",
    "approve": "同意延期",
    "reject": "不同意",
    "extend_ok_rep": "主管 {manager} 已同意「{customer}」延期，红绿灯已重新计时。",
    "extend_no_rep": "主管 {manager} 未同意「{customer}」延期，请尽快更新进展。",
    "extend_done": "已处理：{answer}",
    "followed_done": "✅ 已跟进（{manager}）",
    "followed_rep": "主管 {manager} 已跟进「{customer}」的升级提醒。",
    "talk_done": "📞 已约谈销售（{manager}）",
    "talk_rep": "主管 {manager} 想和您聊聊「{customer}」{name} 的进展，请尽快联系。",
    "gone": "这个商机已不存在或已关闭。",
    "not_yours": "您无权处理这个商机。",
}

def _load(ctx: Context) -> tuple[Opportunity, Customer] | None:
    return open_opportunity(ctx.session, ctx.action_data.get("opportunity"))


STAGE_BUTTONS = 6  # a WeCom card takes at most six buttons


def advance_choice(event: Event, ctx: Context) -> list[Reply]:
    """「推进阶段」 on a stage-light card starts the real advance (which stage, then the stage's own dialog); the card
    itself keeps its other buttons, since the matter is handled only once the advance is made."""
    found = _load(ctx)
    if found is None:
        return [Reply.say(TEXT["gone"])]
    opportunity, customer = found
    data = {"opportunity": opportunity.id}
    still_open = Card(title=TEXT["advancing_title"].format(customer=customer.name), lines=[TEXT["advancing_line"]],
                      buttons=[Button(TEXT["update"], "progress:update", data, "primary"),
                               Button(TEXT["extend"], "lights:extend", data)])
    names = [s.name for s in ctx.rules.stages.stages]
    later = names[names.index(opportunity.stage) + 1:] if opportunity.stage in names else names
    return [Reply.update(still_open), Reply.show(Card(
        title=TEXT["advance_title"].format(customer=customer.name),
        lines=[TEXT["advance_line"].format(stage=opportunity.stage)],
        buttons=[Button(stage, "stages:start", {"opportunity": opportunity.id, "to": stage})
                 for stage in later[:STAGE_BUTTONS]],
    ))]


def ask_extension(event: Event, ctx: Context) -> list[Reply]:
    found = _load(ctx)
    if found is None:
        return [Reply.say(TEXT["gone"])]
    opportunity, customer = found
    manager = users.manager_of(ctx.session, ctx.user)
    if manager is None:
        return [Reply.say(TEXT["no_manager"])]
    data = {"opportunity": opportunity.id, "rep": ctx.user.id}
    card = Card(
        title=TEXT["extend_title"],
        lines=[TEXT["extend_body"].format(rep=ctx.user.name, customer=customer.name, name=opportunity.name,
                                          stage=opportunity.stage)],
        buttons=[Button(TEXT["approve"], "lights:extend_ok", data, "primary"),
                 Button(TEXT["reject"], "lights:extend_no", data)],
    )
    return [Reply.say(TEXT["extend_sent"].format(manager=manager.name)), Reply.show(card, to_user=manager.id)]


def decide_extension(event: Event, ctx: Context, *, approved: bool) -> list[Reply]:
    found = _load(ctx)
    if found is None:
        return [Reply.say(TEXT["gone"])]
    opportunity, customer = found
    rep_id = ctx.action_data["rep"]
    if approved:
        record_update(ctx.session, opportunity, at=ctx.now, by=ctx.user.id)
    template = TEXT["extend_ok_rep"] if approved else TEXT["extend_no_rep"]
    answer = TEXT["approve"] if approved else TEXT["reject"]
    return [
        Reply.update(Card(title=TEXT["extend_title"], lines=[TEXT["extend_done"].format(answer=answer)])),
        Reply.say(template.format(manager=ctx.user.name, customer=customer.name), to_user=rep_id),
    ]


def approve_extension(event: Event, ctx: Context) -> list[Reply]:
    return decide_extension(event, ctx, approved=True)


def reject_extension(event: Event, ctx: Context) -> list[Reply]:
    return decide_extension(event, ctx, approved=False)


def follow_up(event: Event, ctx: Context, *, talk: bool) -> list[Reply]:
    """Closes the escalation (and the rep's yellow warning for the same opportunity) for both sides."""
    found = _load(ctx)
    if found is None:
        return [Reply.say(TEXT["gone"])]
    opportunity, customer = found
    escalation = alerts.latest_open(ctx.session, opportunity.id, "stage_escalated")
    alerts.resolve_for_opportunity(ctx.session, opportunity.id, STAGE_ALERTS, at=ctx.now, by=ctx.user.id)
    rep = ctx.session.get(User, opportunity.owner_id) if opportunity.owner_id else None
    done = (TEXT["talk_done"] if talk else TEXT["followed_done"]).format(manager=ctx.user.name)
    replies = [Reply.update(Card(title=done, lines=[escalation.message or ""] if escalation else []))]
    if rep is not None:
        template = TEXT["talk_rep"] if talk else TEXT["followed_rep"]
        replies.append(Reply.say(template.format(manager=ctx.user.name, customer=customer.name,
                                                 name=opportunity.name), to_user=rep.id))
    return replies


def followed(event: Event, ctx: Context) -> list[Reply]:
    return follow_up(event, ctx, talk=False)


def talk(event: Event, ctx: Context) -> list[Reply]:
    return follow_up(event, ctx, talk=True)


ROUTES: list[Route] = private_routes([
    on_action("lights:advance", advance_choice),
    on_action("lights:extend_ok", approve_extension),
    on_action("lights:extend_no", reject_extension),
    on_action("lights:extend", ask_extension),
    on_action("lights:followed", followed),
    on_action("lights:talk", talk),
])
