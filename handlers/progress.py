"""更新进展: a one-line status update from a card button; it turns the stage light green again."""

from __future__ import annotations

from bot.cards import Reply
from bot.events import Context, Event, Route, on_action, on_flow
from handlers.groups import private_routes
from store import dialogs
from store.opportunities import open_opportunity, record_update

TEXT = {
    "ask_update": "请直接回复「{customer}」的最新进展（一句话即可），发送「取消」放弃。",
    "updated": "已记录「{customer}」的进展，红绿灯已恢复绿灯。",
    "empty_update": "进展不能为空，请再回复一次，或发送「取消」。",
    "gone": "这个商机已不存在或已关闭。",
    "not_yours": "您无权处理这个商机。",
}

FLOW_UPDATE = "progress_update"


def ask_update(event: Event, ctx: Context) -> Reply:
    found = open_opportunity(ctx.session, ctx.action_data.get("opportunity"))
    if found is None:
        return Reply.say(TEXT["gone"])
    opportunity, customer = found
    dialogs.start(ctx.session, user_id=ctx.user.id, flow=FLOW_UPDATE, step="text",
                  data={"opportunity": opportunity.id}, now=ctx.now)
    return Reply.say(TEXT["ask_update"].format(customer=customer.name))


def take_update(event: Event, ctx: Context) -> Reply:
    if not ctx.args:
        return Reply.say(TEXT["empty_update"])
    found = open_opportunity(ctx.session, ctx.dialog.data.get("opportunity") if ctx.dialog else None)
    dialogs.clear(ctx.session, ctx.user.id)
    if found is None:
        return Reply.say(TEXT["gone"])
    opportunity, customer = found
    if opportunity.owner_id != ctx.user.id:
        return Reply.say(TEXT["not_yours"])
    record_update(ctx.session, opportunity, at=ctx.now, by=ctx.user.id)
    return Reply.say(TEXT["updated"].format(customer=customer.name))


ROUTES: list[Route] = private_routes([
    on_action("progress:update", ask_update),
    on_flow(FLOW_UPDATE, take_update),
])
