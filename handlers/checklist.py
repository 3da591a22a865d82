"""`拜访 <客户>`: a 《客户攻坚清单》 from the customer's history; the ticked list becomes the day's structured report."""

from __future__ import annotations

from typing import Any

from bot.cards import Button, Card, Reply
from bot.events import Context, Event, Route, on_action, on_command
from handlers import customers, reports
from handlers.groups import private_routes
from store import access
from store import reports as store
from store.models import Checklist, Customer, Todo

TEXT = {
    "usage": "拜访 <客户>",
    "help": "拜访前生成《客户攻坚清单》，勾选完成项即生成日报",
    "format": "请按「拜访 <客户>」发送，如「拜访 华东医疗」。",
    "unknown": "没有找到您可见的客户「{name}」。",
    "which": "您要拜访哪个客户？",
    "title": "📋《客户攻坚清单》· {customer}",
    "stage_label": "阶段",
    "stage": "{stage}阶段",
    "no_opportunity": "暂无商机",
    "pain": "痛点：{text}",
    "feedback": "待解决反馈：{text}",
    "competitor": "竞品动作：{text}",
    "todo": "上次待办：{text}{due}",
    "due": "（{due}）",
    "goal": "本次目标：{text}",
    "default_goal": "了解最新需求，约定下一步",
    "ticked": "☑ {text}",
    "open": "☐ {text}",
    "note": "拜访中点条目勾选，结束后点「完成拜访」生成结构化日报。",
    "done": "完成拜访",
    "finished_title": "✅ 已完成拜访 · {customer}",
    "finished": "已记入今天的日报：完成 {done}/{total} 项，价值分 {score}。",
    "gone": "这份清单已不存在或已完成。",
    "button": "{mark} {n}. {text}",
}
VIA = "checklist"  # how a manager's read is named in the audit log
MAX_ITEMS = 12
BUTTON_CHARS = 16


def history_items(ctx: Context, customer: Customer) -> list[dict[str, Any]]:
    """Pain points, open feedback and competitor moves from earlier reports, open todos, and a goal for the stage."""
    items: list[dict[str, Any]] = []

    def add(kind: str, text: str, **extra: Any) -> None:
        if all(i["text"] != text for i in items):
            items.append({"kind": kind, "text": text, "done": False, **extra})

    owners = access.reps_in_scope(ctx.session, ctx.user)
    earlier = store.reports_mentioning(ctx.session, customer.name, before=ctx.today,
                                       rep_ids=None if owners is None else set(owners))
    for report in earlier:
        parts = [report.body.get("quick_note") or {}] + report.body.get("checklists", [])
        for part in parts:
            mine = part.get("by_customer", {}).get(customer.name, {}) if "by_customer" in part else (
                part if part.get("customer") == customer.name else {})
            for keyword in mine.get("keywords", []):
                add("pain", TEXT["pain"].format(text=keyword), keyword=keyword)
            for feedback in mine.get("feedback", []):
                if feedback.get("polarity") == "negative":
                    add("feedback", TEXT["feedback"].format(text=feedback["keyword"]), keyword=feedback["keyword"])
            for competitor in mine.get("competitors", []):
                add("competitor", TEXT["competitor"].format(text=competitor), competitor=competitor)
    assert customer.id is not None
    for keyword in store.negative_feedback(ctx.session, customer.id):
        add("feedback", TEXT["feedback"].format(text=keyword), keyword=keyword)
    for todo in store.open_todos(ctx.session, customer.id):
        due = TEXT["due"].format(due=todo.due_on.isoformat()[5:]) if todo.due_on else ""
        add("todo", TEXT["todo"].format(text=todo.text, due=due), todo=todo.id)
    opportunity = customers.open_opportunity(ctx.session, customer)
    goal = ctx.rules.reports.visit_goals.get(opportunity.stage) if opportunity else None
    items = items[:MAX_ITEMS - 1]
    add("goal", TEXT["goal"].format(text=goal or TEXT["default_goal"]))
    return items


def checklist_card(checklist: Checklist, customer: Customer, stage: str | None) -> Card:
    data = {"checklist": checklist.id}
    buttons = [Button(TEXT["button"].format(mark="☑" if item["done"] else "☐", n=n, text=item["text"][:BUTTON_CHARS]),
                      "checklist:tick", {**data, "index": n - 1}) for n, item in enumerate(checklist.items, 1)]
    return Card(
        title=TEXT["title"].format(customer=customer.name),
        fields=[(TEXT["stage_label"], TEXT["stage"].format(stage=stage) if stage else TEXT["no_opportunity"])],
        lines=[TEXT["ticked" if item["done"] else "open"].format(text=item["text"]) for item in checklist.items],
        note=TEXT["note"],
        buttons=buttons + [Button(TEXT["done"], "checklist:done", data, "primary")],
    )


def open_for(ctx: Context, customer: Customer) -> list[Reply]:
    assert customer.id is not None
    checklist = Checklist(rep_id=ctx.user.id, customer_id=customer.id, items=history_items(ctx, customer),
                          created_at=ctx.now)
    ctx.session.add(checklist)
    ctx.session.flush()
    opportunity = customers.open_opportunity(ctx.session, customer)
    return [Reply.show(checklist_card(checklist, customer, opportunity.stage if opportunity else None))]


def visit(event: Event, ctx: Context) -> list[Reply]:
    if not ctx.args:
        return [Reply.say(TEXT["format"])]
    found = customers.find(ctx.session, ctx.user, ctx.args)
    if found.sure is not None:
        return open_for(ctx, customers.opened(ctx, found.sure, VIA))
    if not found.candidates:
        return [customers.not_found(ctx, ctx.args)]
    return [Reply.show(Card(title=TEXT["which"], buttons=[
        Button(c.name, "checklist:open", {"customer": c.id}) for c in found.candidates] + [customers.none_button()]))]


def picked(event: Event, ctx: Context) -> list[Reply]:
    customer = ctx.session.get(Customer, ctx.action_data.get("customer"))
    if customer is None or not customers.can_see(ctx.session, ctx.user, customer):
        return [Reply.say(TEXT["unknown"].format(name=""))]
    return open_for(ctx, customers.opened(ctx, customer, VIA))


def _mine(ctx: Context) -> tuple[Checklist, Customer] | None:
    checklist = ctx.session.get(Checklist, ctx.action_data.get("checklist"))
    if checklist is None or checklist.rep_id != ctx.user.id or checklist.completed_at is not None:
        return None
    customer = ctx.session.get(Customer, checklist.customer_id)
    return (checklist, customer) if customer else None


def tick(event: Event, ctx: Context) -> list[Reply]:
    """Toggles one item; the card is redrawn in place with fresh buttons."""
    found = _mine(ctx)
    index = ctx.action_data.get("index")
    if found is None or not isinstance(index, int) or not 0 <= index < len(found[0].items):
        return [Reply.say(TEXT["gone"])]
    checklist, customer = found
    items = [dict(item) for item in checklist.items]
    items[index]["done"] = not items[index]["done"]
    checklist.items = items
    ctx.session.add(checklist)
    opportunity = customers.open_opportunity(ctx.session, customer)
    return [Reply.update(checklist_card(checklist, customer, opportunity.stage if opportunity else None))]


def finish(event: Event, ctx: Context) -> list[Reply]:
    """Ticked pains, feedback and competitor moves go into the report; ticked old todos are done."""
    found = _mine(ctx)
    if found is None:
        return [Reply.say(TEXT["gone"])]
    checklist, customer = found
    done = [item for item in checklist.items if item["done"]]
    for item in done:
        todo = ctx.session.get(Todo, item["todo"]) if item["kind"] == "todo" else None
        if todo is not None and todo.done_at is None:
            todo.done_at = ctx.now
            ctx.session.add(todo)
    entry = {
        "customer": customer.name, "checklist": checklist.id,
        "done": [i["text"] for i in done], "open": [i["text"] for i in checklist.items if not i["done"]],
        "keywords": [i["keyword"] for i in done if i["kind"] == "pain"],
        "feedback": [{"keyword": i["keyword"], "polarity": "negative"} for i in done if i["kind"] == "feedback"],
        "competitors": [i["competitor"] for i in done if i["kind"] == "competitor"],
    }
    report, _ = reports.file_report(ctx, checklist=entry)
    checklist.completed_at = ctx.now
    ctx.session.add(checklist)
    summary = TEXT["finished"].format(done=len(done), total=len(checklist.items), score=report.value_score)
    return [Reply.update(Card(title=TEXT["finished_title"].format(customer=customer.name),
                              lines=entry["done"] or [], note=summary)), Reply.say(summary)]


ROUTES: list[Route] = private_routes([
    on_command("拜访", visit, usage=TEXT["usage"], help=TEXT["help"]),
    on_action("checklist:open", picked),
    on_action("checklist:tick", tick),
    on_action("checklist:done", finish),
])
