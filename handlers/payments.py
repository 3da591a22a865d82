"""Payment plans and receipts in chat: milestones on entering 合同签署, `回款` and the 录入回款 button."""

from __future__ import annotations

from bot.cards import Button, Card, Reply
from bot.events import Context, Event, Route, on_action, on_command, on_flow
from handlers import customers
from handlers.groups import private_routes
from nlp.amounts import parse_amount
from nlp.milestones import parse_plan
from rules.money import yuan
from store import dialogs, outbox, users
from store.models import CommissionHold, Customer, Opportunity, PaymentMilestone, User
from store.opportunities import open_opportunity
from store.payments import manager_card_key, record_payment

TEXT = {
    "ask_plan": "「{customer}」已进入「{stage}」。请回复付款节点，例如：首付30% 12月15日，尾款70% 明年3月1日"
                "（到期前 {days} 天会提醒您，逾期未回款将暂扣提成）。",
    "ask_contract_amount": "付款节点按比例填写，请先回复合同总金额（如 80万）。",
    "plan_unclear": "没看懂付款节点。请按「首付30% 12月15日，尾款70% 明年3月1日」的格式回复，或发送「取消」。",
    "percent_sum": "各期比例加起来是 {total:g}%，应为 100%。请重新回复付款节点。",
    "plan_title": "✅ 付款节点已登记",
    "plan_line": "· {label} {amount} · {due} 到期",
    "plan_note": "到期前 {days} 天提醒；到期未录入回款凭证将暂扣下一阶段提成。",
    "ask_amount": "请回复「{customer}」本次回款金额（如 30万），发送「取消」放弃。",
    "amount_unclear": "没看懂金额，请回复如「30万」「120000元」，或发送「取消」。",
    "recorded": "已录入「{customer}」回款 {amount}。",
    "settled": "{labels} 已结清。",
    "released": "因逾期暂扣的提成已解除。",
    "released_title": "✅ 回款已到，提成暂扣已解除",
    "released_body": "{rep} 的「{customer}」{labels} 已回款 {amount}，此前因逾期暂扣的提成已解除。",
    "nudge_title": "⛔ 回款逾期：提成已暂扣",
    "nudge_sent": "已提醒 {rep} 跟进「{customer}」{label} {amount} 的回款。回款录入后这张卡片会更新。",
    "nudge_moot": "这笔回款已录入或商机已关闭，无需再提醒。",
    "nudged_title": "📣 主管提醒：请跟进回款",
    "nudged_body": "{manager} 提醒您：「{customer}」{label} {amount} 已逾期未回款，提成已暂扣。收到款后请点「录入回款」。",
    "record_button": "录入回款",
    "gone": "这个商机已不存在或已关闭。",
    "record_usage": "回款 <客户> <金额>",
    "record_help": "录入一笔回款（逾期暂扣的提成随之解除）",
    "record_format": "请按「回款 <客户> <金额>」发送，如「回款 华东医疗 30万」。",
}

FLOW_PLAN = "payments_plan"
FLOW_RECORD = "payments_record"


def ask_plan(ctx: Context, opportunity: Opportunity, customer_name: str) -> Reply:
    """Called when an opportunity enters the payments stage: the next message is the payment plan."""
    dialogs.start(ctx.session, user_id=ctx.user.id, flow=FLOW_PLAN, step="plan",
                  data={"opportunity": opportunity.id}, now=ctx.now)
    return Reply.say(TEXT["ask_plan"].format(customer=customer_name, stage=opportunity.stage,
                                             days=ctx.rules.payments.remind_days_before))


def take_plan(event: Event, ctx: Context) -> Reply:
    assert ctx.dialog is not None
    found = open_opportunity(ctx.session, ctx.dialog.data.get("opportunity"))
    if found is None:
        dialogs.clear(ctx.session, ctx.user.id)
        return Reply.say(TEXT["gone"])
    opportunity, customer = found
    data = dict(ctx.dialog.data)
    if ctx.dialog.step == "contract_amount":
        amount = parse_amount(ctx.args)
        if amount is None:
            return Reply.say(TEXT["amount_unclear"])
        opportunity.amount = amount
        ctx.session.add(opportunity)
        text = data["plan"]
    else:
        text = ctx.args
    plan = parse_plan(text, ctx.today)
    if not plan:
        return Reply.say(TEXT["plan_unclear"])
    percents = [m.percent for m in plan if m.percent is not None]
    if percents and abs(sum(percents) - 100) > 0.01:
        return Reply.say(TEXT["percent_sum"].format(total=sum(percents)))
    if percents and not opportunity.amount:
        dialogs.advance(ctx.session, ctx.dialog, step="contract_amount", data={**data, "plan": text}, now=ctx.now)
        return Reply.say(TEXT["ask_contract_amount"])
    rows = [
        PaymentMilestone(opportunity_id=opportunity.id, label=m.label, due_on=m.due_on,
                         amount=m.amount if m.amount is not None else round(opportunity.amount * m.percent / 100))
        for m in plan
    ]
    ctx.session.add_all(rows)
    dialogs.clear(ctx.session, ctx.user.id)
    return Reply.show(Card(
        title=TEXT["plan_title"],
        lines=[TEXT["plan_line"].format(label=r.label, amount=yuan(r.amount), due=r.due_on.isoformat()) for r in rows],
        note=TEXT["plan_note"].format(days=ctx.rules.payments.remind_days_before),
    ))


def ask_receipt(event: Event, ctx: Context) -> Reply:
    found = open_opportunity(ctx.session, ctx.action_data.get("opportunity"))
    if found is None:
        return Reply.say(TEXT["gone"])
    opportunity, customer = found
    dialogs.start(ctx.session, user_id=ctx.user.id, flow=FLOW_RECORD, step="amount",
                  data={"opportunity": opportunity.id}, now=ctx.now)
    return Reply.say(TEXT["ask_amount"].format(customer=customer.name))


def take_receipt(event: Event, ctx: Context) -> Reply | list[Reply]:
    assert ctx.dialog is not None
    amount = parse_amount(ctx.args)
    if amount is None:
        return Reply.say(TEXT["amount_unclear"])
    found = open_opportunity(ctx.session, ctx.dialog.data.get("opportunity"))
    dialogs.clear(ctx.session, ctx.user.id)
    if found is None:
        return Reply.say(TEXT["gone"])
    return record(ctx, found[0], found[1].name, amount, {"message": event.msg_id})


def record(ctx: Context, opportunity: Opportunity, customer_name: str, amount: int, receipt: dict) -> list[Reply]:
    """Applies a receipt to the opportunity's milestones and says what it settled; a lifted hold is news to the
    manager who was told of it."""
    paid = record_payment(ctx.session, opportunity_id=opportunity.id, rep_id=ctx.user.id, amount=amount,
                          at=ctx.now, receipt=receipt)
    labels = "、".join(m.label for m in paid.settled)
    text = TEXT["recorded"].format(customer=customer_name, amount=yuan(amount))
    text += TEXT["settled"].format(labels=labels) if paid.settled else ""
    if not paid.released:
        return [Reply.say(text)]
    manager = users.manager_of(ctx.session, ctx.user)
    if manager is None or manager.id == ctx.user.id:
        return [Reply.say(text + TEXT["released"])]
    body = TEXT["released_body"].format(rep=ctx.user.name, customer=customer_name, labels=labels, amount=yuan(amount))
    card = Card(title=TEXT["released_title"], lines=[body])
    return [Reply.say(text + TEXT["released"]), *_redraw_hold_cards(ctx, paid.released, card, manager.id)]


def _redraw_hold_cards(ctx: Context, released: list[CommissionHold], card: Card, manager_id: str) -> list[Reply]:
    """The manager's hold card becomes the release card in place (a new card where the platform cannot redraw
    it); a hold card taken back before it was seen (quiet hours) needs no release."""
    rows = [row for hold in released if (row := outbox.by_key(ctx.session, manager_card_key(hold.milestone_id)))]
    if not rows:  # the manager heard of the hold in a digest, or not at all: the release in a card of its own
        return [Reply.show(card, to_user=manager_id)]
    return [Reply.replace(card, outbox_id=row.id, to_user=manager_id) for row in rows
            if row.id is not None and row.status != outbox.WITHDRAWN]


def nudge(event: Event, ctx: Context) -> list[Reply]:
    """The manager's 提醒TA跟进 on a hold card: the rep gets a card to record the payment, the manager's card says
    the reminder went out."""
    milestone = ctx.session.get(PaymentMilestone, ctx.action_data.get("milestone"))
    found = open_opportunity(ctx.session, milestone.opportunity_id) if milestone else None
    if milestone is None or found is None or milestone.received_amount >= milestone.amount:
        return [Reply.update(Card(title=TEXT["nudge_title"], lines=[TEXT["nudge_moot"]]))]
    opportunity, customer = found
    rep = ctx.session.get(User, opportunity.owner_id) if opportunity.owner_id else None
    if rep is None:
        return [Reply.update(Card(title=TEXT["nudge_title"], lines=[TEXT["gone"]]))]
    due = {"customer": customer.name, "label": milestone.label, "amount": yuan(milestone.amount)}
    record = Button(TEXT["record_button"], "payments:record", {"opportunity": opportunity.id}, "primary")
    return [
        Reply.show(Card(title=TEXT["nudged_title"], lines=[TEXT["nudged_body"].format(manager=ctx.user.name, **due)],
                        buttons=[record]), to_user=rep.id),
        Reply.update(Card(title=TEXT["nudge_title"], lines=[TEXT["nudge_sent"].format(rep=rep.name, **due)])),
    ]


def record_command(event: Event, ctx: Context) -> list[Reply]:
    head, _, amount_text = ctx.args.strip().rpartition(" ")
    amount = parse_amount(amount_text) if head else None
    if amount is None:
        return [Reply.say(TEXT["record_format"])]
    customer = customers.resolve(ctx, head, pick_action="payments:pick", extra={"amount": amount})
    return customer if isinstance(customer, list) else _record_for(ctx, customer, amount, event)


def record_picked(event: Event, ctx: Context) -> list[Reply]:
    customer = customers.picked(ctx)
    return customer if isinstance(customer, list) else _record_for(ctx, customer, ctx.action_data["amount"], event)


def _record_for(ctx: Context, customer: Customer, amount: int, event: Event) -> list[Reply]:
    """Money arrives on the customer's open (or, once signed, won) opportunity."""
    opportunity = customers.open_opportunity(ctx.session, customer) or customers.latest_won(ctx.session, customer)
    if opportunity is None:
        return [Reply.say(customers.TEXT["no_opportunity"].format(customer=customer.name))]
    return record(ctx, opportunity, customer.name, amount, {"message": event.msg_id})


ROUTES: list[Route] = private_routes([
    on_command("回款", record_command, usage=TEXT["record_usage"], help=TEXT["record_help"]),
    on_action("payments:pick", record_picked),
    on_action("payments:record", ask_receipt),
    on_action("payments:nudge", nudge),
    on_flow(FLOW_RECORD, take_receipt),
    on_flow(FLOW_PLAN, take_plan),
])
