"""`新线索`: slot-filling a lead card by card until the required fields are in, then saving it tagged."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from bot.cards import Button, Card, Reply
from bot.events import Context, Event, Route, on_action, on_command
from handlers import customers
from handlers.flows import Data, Flow, answer_button
from handlers.groups import private_routes
from nlp.amounts import parse_amount
from nlp.dates import resolve as resolve_date
from nlp.leads import ParsedLead, Vocabulary, parse_lead, parse_people
from rules import leads as lead_rules
from rules.lights import next_change
from rules.schema import LeadsFile
from store import dialogs
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
    "name_title": "确认客户名称",
    "name_line": "客户名称是「{name}」吗？",
    "name_note": "不对请点「改一下」，或直接回复正确的客户名称。",
    "yes": "是",
    "edit": "改一下",
    "yes_words": "是 是的 对 对的 没错 嗯 ok 好",
    "open_title": "已有进行中的商机",
    "open_line": "「{name}」已有进行中的商机（阶段：{stage}）",
    "open_note": "同一客户一般只跟进一个商机；确需另起一单再点「新建第二个商机」。",
    "view": "查看商机",
    "second": "新建第二个商机",
    "cancel": "取消",
    "open_unclear": "请点「查看商机」「新建第二个商机」或「取消」。",
    "cancelled": "已取消，没有新建商机。",
    "deal_title": "{name} · 进行中的商机",
    "stage": "阶段",
    "gone": "这张卡片已失效，请重新发送「新线索」。",
}

FLOW = "leads"


def vocabulary(rules: LeadsFile) -> Vocabulary:
    """What the lead parser understands, from the rule file an admin edits."""
    need = rules.field("need_stage")
    phrases = rules.need_stage_phrases
    return Vocabulary(
        industries={i.name: [i.name, *i.aliases] for i in rules.industries},
        industry_words={i.name: i.keywords for i in rules.industries},
        need_stages={c: [c, *phrases.get(c, [])] for c in (need.choices if need else [])},
        budget_bands={b.name: [b.name, *b.phrases] for b in rules.budget_bands},
        titles=rules.titles,
        evidence=sorted({q.label for i in rules.industries for q in i.evidence}),
        band_limits={b.name: b.below for b in rules.budget_bands},
    )


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
        data["customer"] = typed_name(ctx, value)
        return _customer_match(ctx, data) if data["customer"] else lead_rules.MESSAGES["empty"]


def typed_name(ctx: Context, value: str) -> str:
    """The name in a typed answer, cut like the first message's: 「大连远洋渔业，做远洋捕捞的」 → 大连远洋渔业."""
    return parse_lead(value, vocabulary(ctx.rules.leads)).customer or value.strip()


class NameStep:
    """A name whose end the parser guessed (no separator, no org suffix) is shown before anything is matched."""

    name = "name"

    def open(self, ctx: Context, data: Data) -> str | None:
        return "confirm" if data.get("customer") and data.get("unsure") else None

    def ask(self, ctx: Context, data: Data, key: str) -> Card:
        return Card(title=TEXT["name_title"], lines=[TEXT["name_line"].format(name=data["customer"])],
                    buttons=[LEADS.button("name:confirm", TEXT["yes"], "yes", "primary"),
                             LEADS.button("name:confirm", TEXT["edit"], "edit")],
                    note=TEXT["name_note"])

    def answer(self, ctx: Context, data: Data, key: str, value: str) -> str | None:
        data["unsure"] = False
        if value == "edit":
            data["customer"] = ""
            return None
        if value != "yes" and value.strip().lower() not in TEXT["yes_words"].split():
            data["customer"] = typed_name(ctx, value)  # the rep typed the right name
        return _customer_match(ctx, data)


class OpenDealStep:
    """A customer with an open opportunity gets no silent second one: the rep chooses."""

    name = "deal"

    def open(self, ctx: Context, data: Data) -> str | None:
        return "open" if _open_deal(ctx, data) is not None and not data.get("second") else None

    def ask(self, ctx: Context, data: Data, key: str) -> Card:
        deal = _open_deal(ctx, data)
        assert deal is not None
        return Card(
            title=TEXT["open_title"], lines=[TEXT["open_line"].format(name=deal.name, stage=deal.stage)],
            buttons=[Button(TEXT["view"], "leads:view", {"opportunity": deal.id}, "primary"),
                     LEADS.button("deal:open", TEXT["second"], "second"),
                     Button(TEXT["cancel"], "leads:cancel")],
            note=TEXT["open_note"],
        )

    def answer(self, ctx: Context, data: Data, key: str, value: str) -> str | None:
        if value not in ("second", TEXT["second"]):
            return TEXT["open_unclear"]
        data["second"] = True
        return None


def _open_deal(ctx: Context, data: Data) -> Opportunity | None:
    customer = ctx.session.get(Customer, data["customer_id"]) if data.get("customer_id") else None
    return customers.open_opportunity(ctx.session, customer) if customer is not None else None


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
        if key == "decision_chain" or key.startswith(lead_rules.ROLE):
            people = parse_people(value, vocabulary(ctx.rules.leads))
            if len(people) == 1 and people[0].name and people[0].title:  # 财务总监老孙 → 「老孙 财务总监」
                value = f"{people[0].name} {people[0].title}"
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
        light_changes_at=next_change(rules.stages.stage(first), now, now),  # green until then
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


LEADS = Flow(FLOW, [CustomerStep(), NameStep(), SameCustomerStep(), OpenDealStep(),
                    FieldStep(FLOW, TEXT["title"], TEXT["draft"])], save)


def draft(parsed: ParsedLead, rules: LeadsFile) -> lead_rules.Lead:
    """The parsed fields in the shape the required-field rules check and the opportunity stores."""
    lead = lead_rules.empty_lead()
    lead["industry"] = parsed.industry
    lead["need_stage"] = parsed.need_stage
    if parsed.budget is not None:
        lead["budget"], lead["budget_band"] = parsed.budget, lead_rules.budget_band(parsed.budget, rules)
    else:
        lead["budget_band"] = parsed.budget_band
    industry = rules.industry(parsed.industry or "")
    labels = {q.label: q.key for q in industry.evidence} if industry else {}
    lead["evidence"] = {labels[label]: value for label, value in parsed.evidence.items() if label in labels}
    lead["decision_chain"] = [{"name": p.name or p.title or "", "title": p.title or "", "role": lead_rules.DECIDER}
                              for p in parsed.decision_makers]
    return lead


def start(event: Event, ctx: Context) -> list[Reply]:
    parsed = parse_lead(ctx.args, vocabulary(ctx.rules.leads))
    data: Data = {"customer": parsed.customer, "unsure": not parsed.customer_sure, "customer_id": None,
                  "same_as": None, "second": False, "lead": draft(parsed, ctx.rules.leads)}
    refusal = _customer_match(ctx, data) if parsed.customer and parsed.customer_sure else None
    ctx.dialog = None
    notes = [refusal] if refusal else []
    notes += [TEXT["ignored"].format(words="、".join(parsed.unknown))] if parsed.unknown else []
    return [Reply.say(note) for note in notes] + LEADS.proceed(ctx, data)


def _leads_dialog(ctx: Context) -> bool:
    return ctx.dialog is not None and ctx.dialog.flow == FLOW


def view(event: Event, ctx: Context) -> list[Reply]:
    """[查看商机]: the open opportunity instead of a second one; the lead draft is dropped."""
    deal = ctx.session.get(Opportunity, ctx.action_data.get("opportunity"))
    customer = ctx.session.get(Customer, deal.customer_id) if deal is not None else None
    if not _leads_dialog(ctx) or deal is None or customer is None or not customers.can_see(ctx.session, ctx.user,
                                                                                            customer):
        return [Reply.say(TEXT["gone"])]
    dialogs.clear(ctx.session, ctx.user.id)
    ctx.dialog = None
    lead = {key: getattr(deal, key) for key in ("industry", "budget", "budget_band", "decision_chain", "need_stage")}
    shown = [k for k in lead_rules.slots({**lead_rules.empty_lead(), **lead}, ctx.rules.leads)
             if not k.startswith(lead_rules.ROLE) and not k.startswith(lead_rules.EVIDENCE)]
    lead = {**lead_rules.empty_lead(), **lead, "evidence": deal.evidence}
    return [Reply.show(Card(
        title=TEXT["deal_title"].format(name=deal.name),
        fields=[(TEXT["stage"], deal.stage)] + [(_label(ctx, k, lead), describe(k, lead)) for k in shown
                                                 if lead_rules.filled(k, lead)],
    ))]


def cancel(event: Event, ctx: Context) -> list[Reply]:
    if not _leads_dialog(ctx):
        return [Reply.say(TEXT["gone"])]
    dialogs.clear(ctx.session, ctx.user.id)
    ctx.dialog = None
    return [Reply.say(TEXT["cancelled"])]


ROUTES: list[Route] = private_routes([on_command("新线索", start, usage=TEXT["usage"], help=TEXT["help"]),
                                      *LEADS.routes(), on_action("leads:view", view),
                                      on_action("leads:cancel", cancel)])
