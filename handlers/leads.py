"""`新线索`: slot-filling a lead card by card until the required fields are in, then saving it tagged."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from bot.cards import Button, Card, Reply
from bot.events import Context, Event, Route, on_command
from handlers import customers
from handlers.flows import Data, Flow, answer_button
from handlers.groups import private_routes
from nlp.amounts import parse_amount
from nlp.dates import resolve as resolve_date
from rules import leads as lead_rules
from store.models import Contact, Customer, Opportunity, StageChange, User

TEXT = {
    "usage": "新线索 <客户> [行业] [预算…] [决策人…] [需求阶段…]",
    "help": "录入新线索，缺的必填项机器人逐项追问",
    "title": "新线索 · {label}",
    "customer_label": "客户名称",
    "customer_prompt": "这条线索是哪个客户？请输入客户名称。",
    "draft": "草稿未保存：行业、预算、决策链、需求阶段等必填项补全后才会保存为商机。发送「取消」放弃。",
    "so_far": "已填：{items}",
    "same_title": "是否为同一客户？",
    "same_line": "「{mention}」和已有客户「{name}」很像。",
    "same": "是同一客户",
    "new": "新建客户",
    "same_words": "是 是的 同一 同一客户 是同一客户",
    "new_words": "否 不是 新建 新建客户",
    "same_unclear": "请点「是同一客户」或「新建客户」。",
    "not_yours": "客户「{name}」已由其他团队跟进，不能重复录入。请换一个名称，或联系您的主管。",
    "colleagues": "客户「{name}」已由同组其他同事跟进，不能重复录入。请换一个名称，或联系您的主管。",
    "saved_title": "✅ 线索已保存 · {customer}",
    "saved_note": "已按规则自动打标，阶段：{stage}。",
    "tag": "标签",
    "chain_item": "{name}（{title}，{role}）",
    "advance": "推进到「{stage}」",
    "ignored": "没看懂这几项，已忽略：{words}",
}

FLOW = "leads"


def describe(key: str, lead: lead_rules.Lead) -> str:
    """A filled slot as the rep would say it."""
    if key == "budget":
        return lead["budget_band"] + (f"（{lead['budget'] // 10_000}万）" if lead.get("budget") else "")
    if key == "decision_chain" or key.startswith(lead_rules.ROLE):
        role = key.removeprefix(lead_rules.ROLE) if key.startswith(lead_rules.ROLE) else lead_rules.DECIDER
        return "、".join(TEXT["chain_item"].format(**p) for p in lead["decision_chain"] if p["role"] == role)
    if key.startswith(lead_rules.EVIDENCE):
        return str(lead["evidence"].get(key.removeprefix(lead_rules.EVIDENCE), ""))
    return str(lead.get(key) or "")


def _customer_match(ctx: Context, data: Data) -> str | None:
    """Links the mention to a customer the rep may use, or flags a near-duplicate to ask about."""
    mention = data["customer"]
    exact = customers.by_exact_name(ctx.session, mention)
    if exact is not None and not customers.can_see(ctx.session, ctx.user, exact):
        data["customer"] = ""
        owner = ctx.session.get(User, exact.owner_id) if exact.owner_id else None
        same_team = owner is not None and owner.team_id is not None and owner.team_id == ctx.user.team_id
        return TEXT["colleagues" if same_team else "not_yours"].format(name=exact.name)
    found = customers.find(ctx.session, ctx.user, mention)
    if found.exact and found.sure is not None:
        data["customer_id"] = found.sure.id
        data["lead"]["industry"] = data["lead"]["industry"] or found.sure.industry
    elif found.near is not None:
        data["same_as"] = found.near.id
    return None


class CustomerStep:
    name = "customer"

    def open(self, ctx: Context, data: Data) -> str | None:
        return None if data.get("customer") else "name"

    def ask(self, ctx: Context, data: Data, key: str) -> Card:
        return Card(title=TEXT["title"].format(label=TEXT["customer_label"]), lines=[TEXT["customer_prompt"]],
                    note=TEXT["draft"])

    def answer(self, ctx: Context, data: Data, key: str, value: str) -> str | None:
        data["customer"] = value.split()[0] if value.split() else ""
        return _customer_match(ctx, data) if data["customer"] else lead_rules.MESSAGES["empty"]


class SameCustomerStep:
    """A near-duplicate name is asked about rather than created as a twin."""

    name = "same"

    def open(self, ctx: Context, data: Data) -> str | None:
        return "customer" if data.get("same_as") else None

    def ask(self, ctx: Context, data: Data, key: str) -> Card:
        known = ctx.session.get(Customer, data["same_as"])
        assert known is not None
        return Card(
            title=TEXT["same_title"], lines=[TEXT["same_line"].format(mention=data["customer"], name=known.name)],
            buttons=[LEADS.button("same:customer", TEXT["same"], "same", "primary"),
                     LEADS.button("same:customer", TEXT["new"], "new")],
            note=TEXT["draft"],
        )

    def answer(self, ctx: Context, data: Data, key: str, value: str) -> str | None:
        if value in ("same", *TEXT["same_words"].split()):
            known = ctx.session.get(Customer, data["same_as"])
            assert known is not None
            data["customer_id"], data["alias"] = known.id, data["customer"]
            data["lead"]["industry"] = data["lead"]["industry"] or known.industry
        elif value not in ("new", *TEXT["new_words"].split()):
            return TEXT["same_unclear"]
        data["same_as"] = None
        return None


class FieldStep:
    """Each missing field, then (when the industry is asked for) the industry's own evidence and roles.

    `data["lead"]` holds the values; `data["required"]` (a stage gate) replaces the lead's required list.
    """

    name = "field"

    def __init__(self, flow: str, title: str, note: str) -> None:
        self.flow, self.title, self.note = flow, title, note

    def open(self, ctx: Context, data: Data) -> str | None:
        missing = lead_rules.missing(data["lead"], ctx.rules.leads, data.get("required"))
        return missing[0] if missing else None

    def ask(self, ctx: Context, data: Data, key: str) -> Card:
        lead = data["lead"]
        question = lead_rules.question(key, lead, ctx.rules.leads)
        assert question is not None
        done = [k for k in lead_rules.slots(lead, ctx.rules.leads, data.get("required")) if lead_rules.filled(k, lead)]
        so_far = "；".join(f"{_label(ctx, k, lead)}：{describe(k, lead)}" for k in done)
        return Card(
            title=self.title.format(label=question.label, **data),
            lines=[question.prompt] + ([TEXT["so_far"].format(items=so_far)] if so_far else []),
            buttons=[answer_button(self.flow, f"{self.name}:{key}", c, c) for c in question.choices],
            note=self.note.format(**data),
        )

    def answer(self, ctx: Context, data: Data, key: str, value: str) -> str | None:
        return lead_rules.apply_answer(key, value, data["lead"], ctx.rules.leads, amount_of=parse_amount,
                                       date_of=lambda text: resolve_date(text, ctx.today))


def _label(ctx: Context, key: str, lead: lead_rules.Lead) -> str:
    question = lead_rules.question(key, lead, ctx.rules.leads)
    return question.label if question else key


def save(ctx: Context, data: Data) -> list[Reply]:
    """All required fields are in: the customer (if new), the opportunity at the first stage, its contacts."""
    lead, rules, now = data["lead"], ctx.rules, ctx.now
    customer = ctx.session.get(Customer, data["customer_id"]) if data.get("customer_id") else None
    if customer is None:
        customer = Customer(name=data["customer"], industry=lead["industry"], owner_id=ctx.user.id,
                            created_at=now, updated_at=now)
        ctx.session.add(customer)
        ctx.session.flush()
    customers.remember_alias(ctx.session, customer, data.get("alias") or "")
    first = rules.stages.stages[0].name
    tag = lead_rules.tag(lead, rules.leads)
    opportunity = Opportunity(
        customer_id=customer.id, owner_id=ctx.user.id, name=customer.name, stage=first, stage_entered_at=now,
        last_update_at=now, industry=lead["industry"], budget=lead["budget"], budget_band=lead["budget_band"],
        decision_chain=lead["decision_chain"], need_stage=lead["need_stage"], evidence=lead["evidence"],
        amount=lead["amount"], expected_close=date.fromisoformat(lead["expected_close"]) if lead["expected_close"]
        else None, tags=[tag], created_at=now,
    )
    ctx.session.add(opportunity)
    ctx.session.flush()
    ctx.session.add(StageChange(opportunity_id=opportunity.id, from_stage=None, to_stage=first, at=now,
                                by_user_id=ctx.user.id))
    _save_contacts(ctx, customer, lead["decision_chain"])
    shown = [k for k in lead_rules.slots(lead, rules.leads) if not k.startswith(lead_rules.ROLE)]
    following = rules.stages.stages[1].name if len(rules.stages.stages) > 1 else None
    return [Reply.show(Card(
        title=TEXT["saved_title"].format(customer=customer.name),
        fields=[(_label(ctx, k, lead), describe(k, lead)) for k in shown] + [(TEXT["tag"], tag)],
        buttons=[Button(TEXT["advance"].format(stage=following), "stages:start",
                        {"opportunity": opportunity.id, "to": following})] if following else [],
        note=TEXT["saved_note"].format(stage=first),
    ))]


def _save_contacts(ctx: Context, customer: Customer, chain: list[dict[str, str]]) -> None:
    known = {c.name: c for c in ctx.session.exec(select(Contact).where(Contact.customer_id == customer.id))}
    for person in chain:
        contact = known.get(person["name"]) or Contact(customer_id=customer.id, name=person["name"])
        contact.title, contact.role, contact.updated_at = person["title"] or None, person["role"], ctx.now
        ctx.session.add(contact)


LEADS = Flow(FLOW, [CustomerStep(), SameCustomerStep(), FieldStep(FLOW, TEXT["title"], TEXT["draft"])], save)


def start(event: Event, ctx: Context) -> list[Reply]:
    mention, lead, unknown = lead_rules.parse_intake(ctx.args, ctx.rules.leads, amount_of=parse_amount)
    data: Data = {"customer": mention, "customer_id": None, "same_as": None, "lead": lead}
    refusal = _customer_match(ctx, data) if mention else None
    ctx.dialog = None
    notes = [refusal] if refusal else []
    notes += [TEXT["ignored"].format(words="、".join(unknown))] if unknown else []
    return [Reply.say(note) for note in notes] + LEADS.proceed(ctx, data)


ROUTES: list[Route] = private_routes([on_command("新线索", start, usage=TEXT["usage"], help=TEXT["help"]),
                                      *LEADS.routes()])
