"""Free-form chat → a command: a rep's words read (nlp.intents) against their own customers and the enabled commands."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from bot.cards import Button, Card, Reply
from bot.events import RUN, Context, Event, Route, on_action
from handlers import customers
from handlers.groups import private_routes
from nlp import Lexicon
from nlp.intent_net import SafetyNet, trained
from nlp.intents import NOTE, Intent, Phrases, Recognizer, Vocabulary
from rules.schema import IntentExamplesFile

TEXT = {
    "yes": "是",
    "no_note": "不是，记为备注",
    "note": "记为备注",
    "ask_payment": "要把 {amount} 万记为{customer}的回款吗？",
    "ask_advance": "要把{customer}推进到「{stage}」吗？",
    "ask_behavior": "要给{customer}记一次「{behavior}」吗？",
    "ask_visit_done": "要记一次对{customer}的拜访吗？",
    "ask_visit_planned": "要打开{customer}的拜访清单吗？",
    "ask_progress": "要把这条记为{customer}的最新进展吗？",
    "ask_lead": "要新建线索「{customer}」吗？",
    "ask_redeem": "要用积分兑换「{reward}」吗？",
    "ask_other": "要执行「{command}」吗？",
    "missing": "看起来是「{command}」，但没看出{what}。请按「{usage}」发送，或记为备注。",
    "what_customer": "是哪个客户",
    "what_amount": "金额",
    "what_stage": "推进到哪个阶段",
    "what_behavior": "哪个行为",
}

VISIT = "touches:visit"  # a visit that already happened
NOTE_ACTION = "touches:note"
CANCEL = "取消"
CACHE_SIZE = 64  # recognizers kept, one per distinct set of visible customers and commands


@dataclass(frozen=True)
class Step:
    """What a sure intent runs: a command word with its arguments, or an action with its data."""

    command: str | None = None
    args: str = ""
    action: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


_recognizers: OrderedDict[tuple[Any, ...], Recognizer] = OrderedDict()


def recognizer(ctx: Context) -> Recognizer:
    """Built once per (customers, commands, rules) and kept: the customer index costs 0.04–0.5 s to build."""
    pool = customers.visible(ctx.session, ctx.user)
    names = tuple((c.name, tuple(c.aliases)) for c in pool)
    commands = frozenset(c.word for c in ctx.commands)
    key = (names, commands, id(ctx.rules))
    found = _recognizers.get(key)
    if found is not None:
        _recognizers.move_to_end(key)
        return found
    version = ctx.rules.behaviors.version_at(ctx.today)
    made = Recognizer(Vocabulary(
        commands=commands,
        customers=Lexicon(customers=[(name, list(aliases)) for name, aliases in names]),
        stages=[s.name for s in ctx.rules.stages.stages],
        behaviors=[b.name for b in version.behaviors],
        rewards=[r.name for r in ctx.rules.behaviors.rewards],
        phrases=Phrases(**ctx.rules.intents.model_dump()),
        net=safety_net(ctx.rules.intent_examples),
    ))
    _recognizers[key] = made
    while len(_recognizers) > CACHE_SIZE:
        _recognizers.popitem(last=False)
    return made


def safety_net(rules: IntentExamplesFile) -> SafetyNet:
    """The net of the rules' examples, trained once per process and example set (nlp.intent_net.trained)."""
    examples = tuple((intent, tuple(texts)) for intent, texts in rules.examples.items())
    return SafetyNet(trained(examples), rules.threshold, frozenset(rules.asks))


def read(ctx: Context, text: str) -> Intent:
    return recognizer(ctx).read(text)


def leaves_dialog(ctx: Context, text: str) -> bool:
    """算了, 不弄了 … inside a dialog mean 取消, whatever the question was."""
    return recognizer(ctx).whole_command(text) == CANCEL


def is_note(intent: Intent) -> bool:
    return intent.command == NOTE


def _origin(event: Event) -> dict[str, Any]:
    return {"text": event.text[:500], "msg_id": event.msg_id, "at": event.received_at.isoformat()}


def _visited(ctx: Context, event: Event, intent: Intent) -> Step | None:
    found = customers.find(ctx.session, ctx.user, intent.customer or "")
    if found.sure is None:
        return None
    return Step(action=VISIT, data={"customer": found.sure.id, **_origin(event)})


def step(ctx: Context, event: Event, intent: Intent) -> Step | None:
    """The step a recognised intent runs, or None when it cannot run without asking."""
    if intent.command == NOTE or not intent.sure:
        return None
    if intent.command == "拜访" and intent.done and intent.customer:
        return _visited(ctx, event, intent)
    return Step(command=intent.command, args=intent.args)


def _question(intent: Intent) -> str:
    customer = intent.customer or intent.mention or ""
    if intent.command == "回款":
        return TEXT["ask_payment"].format(amount=f"{(intent.amount or 0) / 10000:g}", customer=customer)
    if intent.command == "推进":
        return TEXT["ask_advance"].format(customer=customer, stage=intent.stage)
    if intent.command == "行为":
        return TEXT["ask_behavior"].format(customer=customer, behavior=intent.behavior)
    if intent.command == "拜访":
        return TEXT["ask_visit_done" if intent.done else "ask_visit_planned"].format(customer=customer)
    if intent.command == "进展":
        return TEXT["ask_progress"].format(customer=customer)
    if intent.command == "新线索" and customer:
        return TEXT["ask_lead"].format(customer=customer)
    if intent.command == "兑换":
        return TEXT["ask_redeem"].format(reward=intent.reward)
    return TEXT["ask_other"].format(command=intent.command)


def _missing(intent: Intent) -> list[str]:
    """What a free sentence did not say that the command needs."""
    needs = {"回款": ("customer", "amount"), "推进": ("customer", "stage"), "行为": ("customer", "behavior"),
             "拜访": ("customer",), "进展": ("customer",)}.get(intent.command, ())
    have = {"customer": intent.customer or intent.mention, "amount": intent.amount, "stage": intent.stage,
            "behavior": intent.behavior}
    return [TEXT[f"what_{slot}"] for slot in needs if not have[slot]]


def confirm(ctx: Context, event: Event, intent: Intent) -> list[Reply]:
    """ONE short question with buttons, instead of filing a stated fact silently as a note."""
    note = Button(TEXT["no_note"], NOTE_ACTION, _origin(event))
    missing = _missing(intent)
    if missing:
        usage = next((c.usage for c in ctx.commands if c.word == intent.command), intent.command)
        text = TEXT["missing"].format(command=intent.command, what="、".join(missing), usage=usage)
        return [Reply.show(Card(title=text, buttons=[Button(TEXT["note"], NOTE_ACTION, _origin(event))]))]
    visited = _visited(ctx, event, intent) if intent.command == "拜访" and intent.done else None
    yes = (Button(TEXT["yes"], VISIT, visited.data, "primary") if visited
           else Button(TEXT["yes"], RUN, {"command": intent.command, "args": intent.args}, "primary"))
    return [Reply.show(Card(title=_question(intent), buttons=[yes, note]))]


ROUTES: list[Route] = private_routes([on_action(customers.NONE_ACTION, customers.none_of_them)])
