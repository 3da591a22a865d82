"""`推进 <客户> 到 <阶段>` gated by the stage's required fields, and `进展 <客户> <…>` for the stage clock."""

from __future__ import annotations

import re
from datetime import date

from bot.cards import Reply
from bot.events import Context, Event, Route, on_action, on_command
from handlers import behaviors, customers, payments
from handlers.flows import Data, Flow
from handlers.groups import private_routes
from handlers.leads import FieldStep
from rules import leads as lead_rules
from store import audit
from store.models import Customer, Opportunity, StageChange
from store.opportunities import record_update

TEXT = {
    "advance_usage": "推进 <客户> 到 <阶段>",
    "advance_help": "推进商机阶段（缺的必填项会追问）",
    "advance_format": "请按「推进 <客户> 到 <阶段>」发送，如「推进 华东医疗 到 方案演示」。",
    "progress_usage": "进展 <客户> <最新进展>",
    "progress_help": "记录商机最新进展，重置阶段停留计时",
    "progress_format": "请按「进展 <客户> <最新进展>」发送，如「进展 华东医疗 客户确认下周演示」。",
    "field_title": "推进到「{to}」· {label}",
    "field_note": "进入「{to}」阶段前需补全此项，补全后自动推进。发送「取消」放弃。",
    "unknown_stage": "没有「{stage}」这个阶段。可选：{known}",
    "same_stage": "「{customer}」已经在「{stage}」阶段了。",
    "closed": "这个商机已关闭，不能再推进。",
    "advanced": "✅ 已推进「{customer}」：{from_stage} → {to}",
    "progressed": "已记录「{customer}」的进展，「{stage}」阶段停留计时已重置。",
}

FLOW = "stages"
COMMAND = re.compile(r"^(?P<customer>.+?)\s*到\s*(?P<stage>\S+)$")
OPPORTUNITY_FIELDS = ("industry", "budget", "budget_band", "decision_chain", "need_stage", "evidence", "amount")


def _values(opportunity: Opportunity) -> lead_rules.Lead:
    values = {key: getattr(opportunity, key) for key in OPPORTUNITY_FIELDS}
    values["expected_close"] = opportunity.expected_close.isoformat() if opportunity.expected_close else None
    return values


def change_stage(ctx: Context, opportunity: Opportunity, to: str) -> None:
    """Writes the StageChange and restarts the stage clock; won/lost stages close the opportunity."""
    stage = ctx.rules.stages.stage(to)
    assert stage is not None
    ctx.session.add(StageChange(opportunity_id=opportunity.id, from_stage=opportunity.stage, to_stage=to,
                                at=ctx.now, by_user_id=ctx.user.id))
    opportunity.stage, opportunity.stage_entered_at = to, ctx.now
    if stage.won or stage.lost:
        opportunity.status, opportunity.closed_at = ("won" if stage.won else "lost"), ctx.now
    record_update(ctx.session, opportunity, at=ctx.now, by=ctx.user.id)


def finish(ctx: Context, data: Data) -> list[Reply]:
    opportunity = ctx.session.get(Opportunity, data["opportunity"])
    if opportunity is None or opportunity.status != "open":
        return [Reply.say(TEXT["closed"])]
    values = data["lead"]
    for key in OPPORTUNITY_FIELDS:
        setattr(opportunity, key, values[key])
    opportunity.expected_close = date.fromisoformat(values["expected_close"]) if values["expected_close"] else None
    from_stage = opportunity.stage
    change_stage(ctx, opportunity, data["to"])
    replies = [Reply.say(TEXT["advanced"].format(customer=data["customer"], from_stage=from_stage, to=data["to"]))]
    if data.get("behavior"):
        replies += behaviors.record(ctx, opportunity, behaviors.current_version(ctx).get(data["behavior"]))
    if "payments" in ctx.modules and data["to"] == ctx.rules.payments.ask_on_stage:
        replies.append(payments.ask_plan(ctx, opportunity, data["customer"]))
    return replies


# The behavior question (行为-商机双向绑定) comes last, once every gated field is in.
STAGES = Flow(FLOW, [FieldStep(FLOW, TEXT["field_title"], TEXT["field_note"]), behaviors.BehaviorStep(FLOW)], finish)


def begin(ctx: Context, opportunity: Opportunity, to: str) -> list[Reply]:
    """Checks the target, then asks for whatever the stage requires that the opportunity lacks."""
    customer = ctx.session.get(Customer, opportunity.customer_id)
    assert customer is not None
    stage = ctx.rules.stages.stage(to)
    if stage is None:
        known = "、".join(s.name for s in ctx.rules.stages.stages)
        return [Reply.say(TEXT["unknown_stage"].format(stage=to, known=known))]
    if opportunity.status != "open":
        return [Reply.say(TEXT["closed"])]
    if opportunity.stage == to:
        return [Reply.say(TEXT["same_stage"].format(customer=customer.name, stage=to))]
    required = [key for key in stage.requires if ctx.rules.leads.field(key)]
    data: Data = {"opportunity": opportunity.id, "customer": customer.name, "to": to, "required": required,
                  "lead": _values(opportunity)}
    ctx.dialog = None
    return STAGES.proceed(ctx, data)


def advance(event: Event, ctx: Context) -> list[Reply]:
    parsed = COMMAND.match(ctx.args)
    if not parsed:
        return [Reply.say(TEXT["advance_format"])]
    to = parsed["stage"]
    customer = customers.resolve(ctx, parsed["customer"], pick_action="stages:pick", extra={"to": to})
    if isinstance(customer, list):
        return customer
    opportunity = customers.opportunity_for(ctx, customer)
    return opportunity if isinstance(opportunity, list) else begin(ctx, opportunity, to)


def picked(event: Event, ctx: Context) -> list[Reply]:
    customer = customers.picked(ctx)
    if isinstance(customer, list):
        return customer
    opportunity = customers.opportunity_for(ctx, customer)
    return opportunity if isinstance(opportunity, list) else begin(ctx, opportunity, ctx.action_data["to"])


def start_from_card(event: Event, ctx: Context) -> list[Reply]:
    opportunity = ctx.session.get(Opportunity, ctx.action_data["opportunity"])
    customer = ctx.session.get(Customer, opportunity.customer_id) if opportunity else None
    if opportunity is None or customer is None or not customers.can_see(ctx.session, ctx.user, customer):
        return [Reply.say(TEXT["closed"])]
    customers.opened(ctx, customer, "stages")
    return begin(ctx, opportunity, ctx.action_data["to"])


def progress(event: Event, ctx: Context) -> list[Reply]:
    mention, _, note = ctx.args.partition(" ")
    if not mention or not note.strip():
        return [Reply.say(TEXT["progress_format"])]
    customer = customers.resolve(ctx, mention, pick_action="stages:progress_pick", extra={"note": note.strip()})
    if isinstance(customer, list):
        return customer
    return _progress(ctx, customer, note.strip())


def progress_picked(event: Event, ctx: Context) -> list[Reply]:
    customer = customers.picked(ctx)
    if isinstance(customer, list):
        return customer
    return _progress(ctx, customer, ctx.action_data["note"])


def _progress(ctx: Context, customer: Customer, note: str) -> list[Reply]:
    opportunity = customers.opportunity_for(ctx, customer)
    if isinstance(opportunity, list):
        return opportunity
    record_update(ctx.session, opportunity, at=ctx.now, by=ctx.user.id)
    audit.record(ctx.session, at=ctx.now, actor=ctx.user.id, action="progress",
                 target=audit.opportunity(opportunity.id), detail={"note": note})
    return [Reply.say(TEXT["progressed"].format(customer=customer.name, stage=opportunity.stage))]


ROUTES: list[Route] = private_routes([
    on_command("推进", advance, usage=TEXT["advance_usage"], help=TEXT["advance_help"]),
    on_command("进展", progress, usage=TEXT["progress_usage"], help=TEXT["progress_help"]),
    on_action("stages:start", start_from_card),
    on_action("stages:pick", picked),
    on_action("stages:progress_pick", progress_picked),
    *STAGES.routes(),
])
