"""Finding the customer a user means, within what they may see (store.access), and remembering new names for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz
from sqlmodel import Session, col, select

from bot.cards import Button, Card, Reply
from bot.events import RUN, Context, Event
from nlp import Lexicon, match_customer
from nlp.customers import find_customers
from nlp.names import core_name, without_region
from nlp.segment import fold
from store import access, audit
from store.models import Customer, Opportunity, User

TEXT = {
    "no_customer": "没找到您可以操作的客户「{mention}」。",
    "not_found": "没有找到「{mention}」",
    "new_lead": "新建线索",
    "none": "都不是",
    "none_taken": "好的，没有做任何改动。",
    "which": "您指的是哪个客户？",
    "which_line": "「{mention}」可能是以下客户：",
    "picked_gone": "这个客户已不存在，或已不在您可以操作的范围内。",
    "no_opportunity": "客户「{customer}」还没有进行中的商机，请先发送「新线索 {customer}」。",
}

CONTAINED = 95.0  # match_customer's score for a name, prefix or contained name: no guess
NEAR_SCORE = 75.0  # a match this close is taken (or, for a new lead, asked about rather than twinned)
ASK_AT_MOST = 4  # candidates offered as buttons
ASK_WITHIN = 10.0  # …those scoring within this many points of the best
# A fuzzy guess is offered only when the names without region and legal suffix are this alike (fuzz.ratio):
# 华东医了器械 ~ 华东医疗器械 (83) is a typo worth asking about; 火星科技 ~ 同创科技 (50) shares only 科技.
GUESS_SIMILARITY = 60.0
NONE_ACTION = "customers:none"
LEAD_COMMAND = "新线索"


def visible(session: Session, user: User) -> list[Customer]:
    owners = access.reps_in_scope(session, user)
    stmt = select(Customer).where(access.customer_clause(owners)).order_by(col(Customer.id))
    return list(session.exec(stmt).all())


def can_see(session: Session, user: User, customer: Customer) -> bool:
    return access.can_see_customer(session, user, customer)


def opened(ctx: Context, customer: Customer, via: str) -> Customer:
    """A customer whose details a reply is about to show: a manager's look is audited (ids only)."""
    audit.read(ctx.session, ctx.user, at=ctx.now, target=audit.customer(customer.id), via=via)
    return customer


def names(customer: Customer) -> list[str]:
    return [customer.name, *customer.aliases]


def _core(name: str) -> str:
    return without_region(core_name(fold(name.strip())))


def similarity(mention: str, customer: Customer) -> float:
    """How alike the mention and the customer's closest name are, region and legal suffix left out."""
    return max(fuzz.ratio(_core(mention), _core(n)) for n in names(customer))


def _lexicon(pool: list[Customer]) -> Lexicon:
    return Lexicon(customers=[(c.name, list(c.aliases)) for c in pool])


@dataclass(frozen=True)
class Found:
    """What a mention means among the visible customers."""

    sure: Customer | None = None  # the one meant, close enough and ahead of the rest
    candidates: list[Customer] = field(default_factory=list)  # best first: ask which one when not sure
    exact: bool = False  # the mention is the name or an alias a rep gave, not a prefix or a guess
    near: Customer | None = None  # the closest customer scoring NEAR_SCORE or more, sure or not


def find(session: Session, user: User, mention: str) -> Found:
    """nlp.match_customer over what the user may see; a guess below NEAR_SCORE is only ever a candidate."""
    pool = visible(session, user)
    key = fold(mention.strip())
    exact = next((c for c in pool if key in {fold(n) for n in names(c)}), None)
    if exact is not None:
        return Found(exact, [exact], exact=True, near=exact)
    by_name = {c.name: c for c in pool}
    result = match_customer(mention, _lexicon(pool)) if key else None
    if result is None or result.best is None:
        return Found()
    ranked = [(by_name[name], score) for name, score in result.candidates
              if name in by_name and (score >= CONTAINED or similarity(mention, by_name[name]) >= GUESS_SIMILARITY)]
    if not ranked:
        return Found()
    near = ranked[0][0] if ranked[0][1] >= NEAR_SCORE else None
    sure = near if not result.ambiguous else None
    close = [c for c, score in ranked if ranked[0][1] - score < ASK_WITHIN]
    return Found(sure, close[:ASK_AT_MOST], near=near)


def mentioned(session: Session, user: User, text: str) -> Customer | None:
    """The first visible customer named unambiguously in free text (names, aliases, short forms, typos)."""
    pool = visible(session, user)
    by_name = {c.name: c for c in pool}
    for mention in find_customers(fold(text), _lexicon(pool)):
        if mention.match.best in by_name and not mention.match.ambiguous:
            return by_name[mention.match.best]
    return None


def by_exact_name(session: Session, mention: str) -> Customer | None:
    """Any customer, visible or not, whose name is exactly this (names are unique company-wide)."""
    return session.exec(select(Customer).where(Customer.name == mention.strip())).first()


def remember_alias(session: Session, customer: Customer, alias: str) -> None:
    alias = alias.strip()
    if alias and alias != customer.name and alias not in customer.aliases:
        customer.aliases = [*customer.aliases, alias]
        session.add(customer)


def open_opportunity(session: Session, customer: Customer) -> Opportunity | None:
    """The customer's most recently updated open opportunity."""
    return session.exec(
        select(Opportunity).where(Opportunity.customer_id == customer.id, Opportunity.status == "open")
        .order_by(col(Opportunity.last_update_at).desc(), col(Opportunity.id).desc())
    ).first()


def resolve(ctx: Context, mention: str, *, pick_action: str, extra: dict[str, Any]) -> Customer | list[Reply]:
    """The one visible customer meant, or the replies that ask which one (buttons → `pick_action`) or say none."""
    found = find(ctx.session, ctx.user, mention)
    via = pick_action.partition(":")[0]
    if found.sure is not None:
        return opened(ctx, found.sure, via)
    if not found.candidates:
        return [not_found(ctx, mention)]
    return [Reply.show(Card(
        title=TEXT["which"], lines=[TEXT["which_line"].format(mention=mention)],
        buttons=[Button(c.name, pick_action, {"customer": c.id, "via": via, **extra}) for c in found.candidates]
        + [none_button()],
    ))]


def none_button() -> Button:
    """Closes every candidate list: nothing is changed."""
    return Button(TEXT["none"], NONE_ACTION)


def not_found(ctx: Context, mention: str) -> Reply:
    """An unknown name: offer to enter it as a lead (when leads are on), never unrelated guesses. A customer out of
    the user's sight gets the same answer as one that does not exist (its lead is refused by the leads flow)."""
    if not any(c.word == LEAD_COMMAND for c in ctx.commands):
        return Reply.say(TEXT["no_customer"].format(mention=mention))
    lead = Button(TEXT["new_lead"], RUN, {"command": LEAD_COMMAND, "args": mention.strip()}, "primary")
    return Reply.show(Card(title=TEXT["not_found"].format(mention=mention.strip()), buttons=[lead, none_button()]))


def none_of_them(event: Event, ctx: Context) -> Reply:
    return Reply.say(TEXT["none_taken"])


def picked(ctx: Context) -> Customer | list[Reply]:
    """The customer chosen on a `resolve` card, checked again: a button is no permission."""
    customer = ctx.session.get(Customer, ctx.action_data.get("customer"))
    if customer is None or not can_see(ctx.session, ctx.user, customer):
        return [Reply.say(TEXT["picked_gone"])]
    return opened(ctx, customer, str(ctx.action_data.get("via", "")))


def opportunity_for(ctx: Context, customer: Customer) -> Opportunity | list[Reply]:
    opportunity = open_opportunity(ctx.session, customer)
    if opportunity is None:
        return [Reply.say(TEXT["no_opportunity"].format(customer=customer.name))]
    return opportunity


def latest_won(session: Session, customer: Customer) -> Opportunity | None:
    """The customer's most recently won opportunity: where payments keep arriving after signing."""
    return session.exec(
        select(Opportunity).where(Opportunity.customer_id == customer.id, Opportunity.status == "won")
        .order_by(col(Opportunity.closed_at).desc(), col(Opportunity.id).desc())
    ).first()
