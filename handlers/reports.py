"""日报速记: today's captured messages and touches → an editable draft → a confirmed DailyReport with todos."""

from __future__ import annotations

import copy
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel import select

import nlp
from bot.cards import Button, Card, Reply
from bot.events import Context, Event, Route, on_action, on_command
from handlers import customers
from handlers.flows import Data, Flow
from handlers.groups import private_routes
from rules.reports import value
from scheduler import health
from store import outbox, users
from store import reports as store
from store.models import Contact, Customer, FeedbackHit, Todo

TEXT = {
    "usage": "日报速记",
    "help": "从今天的聊天和触达自动生成日报草稿",
    "empty_title": "📭 今天还没有记录",
    "empty_lines": ["今天还没有可整理的聊天或触达。", "发给我的客户消息、产品链接、会议和方案文件都会自动记下，",
                    "晚上点「日报速记」即可一键生成草稿。"],
    "draft_title": "📝 日报草稿 · {day}",
    "customers": "客户",
    "keywords": "诉求",
    "feedback": "反馈",
    "stage_changes": "阶段推进",
    "competitors": "竞品",
    "contacts": "决策链",
    "notes": "备注",
    "todos": "待办：",
    "none": "—",
    "no_todos": "待办：无",
    "todo_line": "{n}. {text}（{due} · {customer}）",
    "no_due": "未定日期",
    "no_customer": "未关联客户",
    "stage_item": "{customer}：{before}→{after}",
    "contact_item": "{name}（{title}，{customer}）",
    "feedback_item": "{keyword}「{words}」（{polarity}）",
    "words_sep": "、",
    "negative": "负面",
    "positive": "正面",
    "truncated": "部分超长内容只整理了前 {n} 字。",
    "draft_note": "可直接回复修改：「待办2改成周五前发报价」「删除待办1」「删除竞品1」；其他内容记为备注。",
    "confirm": "确认提交",
    "edit": "修改",
    "append": "补充一句",
    "back": "返回草稿",
    "edit_title": "✏️ 要改什么？",
    "edit_lines": ["直接回复一句，例如：", "· 待办2改成周五前发报价", "· 删除待办1（也可删除客户/诉求/反馈/竞品/决策链的第 N 项）",
                   "· 诉求1改成POC测试", "其他内容会作为备注加入日报。"],
    "append_title": "➕ 补充一句",
    "append_lines": ["请发送要补充的内容，我会重新整理出客户、诉求、待办等。"],
    "no_item": "草稿里没有{section}{n}。",
    "filed": "✅ 日报已提交（{day}）：价值分 {score}{tags}。{todos}",
    "filed_tags": "（{tags}）",
    "filed_todos": "{n} 条待办已设到期提醒。",
    "contact_title": "👤 更新联系人职务？",
    "contact_line": "「{customer}」的 {name} 现记为「{old}」，日报里写的是「{new}」。",
    "update": "更新",
    "keep": "保留",
    "contact_updated": "已把 {name} 的职务更新为「{title}」。",
    "contact_kept": "已保留 {name} 原来的职务「{title}」。",
    "contact_gone": "这个联系人已不存在或您无权修改。",
    "todo_done": "✅ 已完成：{text}",
    "todo_gone": "这条待办已不存在。",
    "amounts": "金额",
    "value": "价值分",
    "value_line": "{score}{tags}",
    "log_line": "**{label}**：{items}",
}

# Sections a correction may name, with the draft key they edit.
SECTIONS = {"待办": "todos", "客户": "customers", "诉求": "keywords", "反馈": "feedback", "竞品": "competitors",
            "决策链": "contacts", "联系人": "contacts"}
EDIT_DELETE = re.compile(r"^\s*(?:删除|删掉|去掉)\s*(待办|客户|诉求|反馈|竞品|决策链|联系人)\s*(\d{1,3})\s*$")
EDIT_REPLACE = re.compile(r"^\s*(待办|客户|诉求|竞品)\s*(\d{1,3})\s*(?:改成|改为|换成)\s*(.+?)\s*$", re.S)
LISTS = ("customers", "keywords", "feedback", "todos", "stage_changes", "competitors", "contacts", "amounts", "notes")
MAX_NOTE = 500
REPORT_LOG = "report_log"  # outbox kind: the confirmed report filed as a DingTalk 日志 (bot/channels/dingtalk_report)
LOG_CHANNEL = "dingtalk"
MAX_KEYWORD = 50


def is_edit(text: str) -> bool:
    """A draft correction in the documented grammar (also kept out of the next day's gathering)."""
    return bool(EDIT_DELETE.match(text) or EDIT_REPLACE.match(text))


def day_window(ctx: Context) -> tuple[datetime, datetime]:
    start = datetime.combine(ctx.today, time.min, ctx.tz)
    return start, start + timedelta(days=1)


Known = dict[tuple[str, str], str | None]  # (customer, contact name) → the title on record


def known_contacts(ctx: Context, pool: list[Customer]) -> Known:
    by_id = {c.id: c.name for c in pool}
    return {(by_id[c.customer_id], c.name): c.title
            for c in store.contacts_of(ctx.session, [c.id for c in pool if c.id is not None])}


def extractor(ctx: Context, pool: list[Customer]) -> nlp.Extractor:
    """The rep's visible customers (aliases too) and the tenant's vocabulary.

    Known contacts are left out of the lexicon on purpose: nlp reads a known contact's title from the
    lexicon and ignores a bracketed one after the name (王总(CIO) stays CTO), while a title change is exactly
    what the report must notice. `mark_contacts` compares with the record instead.
    """
    return nlp.Extractor(nlp.Lexicon.from_vocabulary(ctx.rules.reports.model_dump(),
                                                     customers=[(c.name, c.aliases) for c in pool]))


def mark_contacts(draft: Data, known: Known) -> None:
    """A contact is news (`change`) when it is new or its title differs; a bare mention shows the known title."""
    for contact in draft["contacts"]:
        key = (contact["customer"] or "", contact["name"])
        on_record = known.get(key)
        contact["change"] = bool(contact["title"]) and (key not in known or contact["title"] != on_record)
        contact["title"] = contact["title"] or on_record


def empty_draft(day: date) -> Data:
    return {"day": day.isoformat(), **{key: [] for key in LISTS}, "by_customer": {}, "truncated": False}


def _add(items: list[Any], new: Any) -> None:
    if new not in items:
        items.append(new)


def _add_feedback(items: list[dict[str, Any]], found: nlp.Feedback) -> None:
    """One item per category and polarity, with every wording that triggered it (价格高「太贵、压价」)."""
    same = next((f for f in items if (f["keyword"], f["polarity"]) == (found.keyword, found.polarity)), None)
    if same is None:
        items.append({"keyword": found.keyword, "polarity": found.polarity, "words": [found.words]})
    elif found.words not in same.setdefault("words", []):
        same["words"].append(found.words)


def merge(draft: Data, found: nlp.Extraction, fallback: str | None = None) -> None:
    """Adds one text's extraction; what it says is filed under the customers it names (or `fallback`).
    诉求 takes only the vocabulary's demand and product words, not every noun of the text."""
    names = [c.name for c in found.customers] or ([fallback] if fallback else [])
    for name in names:
        _add(draft["customers"], name)
    for keyword in found.demands:
        _add(draft["keywords"], keyword)
    for f in found.feedback:
        _add_feedback(draft["feedback"], f)
    for todo in found.todos:
        _add(draft["todos"], {"text": todo.text, "due": todo.due.isoformat() if todo.due else None,
                              "customer": todo.customer or (names[0] if len(names) == 1 else None)})
    for name in found.competitors:
        _add(draft["competitors"], name)
    for c in found.contacts:
        customer = c.customer or fallback
        same = next((x for x in draft["contacts"] if (x["name"], x["customer"]) == (c.name, customer)), None)
        if same is None:
            draft["contacts"].append({"name": c.name, "title": c.title, "customer": customer})
        elif c.title:
            same["title"] = c.title
    for amount in found.amounts:
        _add(draft["amounts"], {"text": amount.text, "value": amount.value})
    draft["truncated"] = draft["truncated"] or found.truncated
    for name in names:
        mine = draft["by_customer"].setdefault(name, {"keywords": [], "feedback": [], "competitors": []})
        for keyword in found.demands:
            _add(mine["keywords"], keyword)
        for f in found.feedback:
            _add_feedback(mine["feedback"], f)
        for competitor in found.competitors:
            _add(mine["competitors"], competitor)


def _skipped(text: str, ctx: Context) -> bool:
    """Commands and draft corrections are talk to the bot, not the day's work."""
    words = [c.word for c in ctx.commands]
    head = text.strip()
    return not head or is_edit(head) or any(head == w or head.startswith(w + " ") for w in words)


def build_draft(ctx: Context, base: Data | None = None) -> Data:
    """Message by message (each within nlp.MAX_CHARS), so each statement is filed under its own customer.

    From `base` (the day's confirmed draft) only what arrived since is added, so corrections survive.
    """
    start, end = day_window(ctx)
    pool = customers.visible(ctx.session, ctx.user)
    reader = extractor(ctx, pool)
    names = {c.id: c.name for c in pool}
    touches = store.day_touches(ctx.session, ctx.user.id, start, end)
    touch_customer = {t.source_msg_id: names.get(t.customer_id) for t in touches if t.customer_id}
    draft = copy.deepcopy(base) if base else empty_draft(ctx.today)
    seen = set(draft.setdefault("seen", []))
    for message in store.day_messages(ctx.session, ctx.user.id, start, end):
        text = " ".join(filter(None, (message.text, message.event.get("filename"))))
        corrects_voice = message.event.get("payload", {}).get("corrects_voice")  # read on its voice row
        if message.msg_id not in seen and not _skipped(text, ctx) and not corrects_voice:
            merge(draft, reader.extract(text, ctx.today), touch_customer.get(message.msg_id))
        seen.add(message.msg_id)
    for touch in touches:  # archive-ingested chats reach us as touches only
        name = names.get(touch.customer_id) if touch.customer_id else None
        if f"touch:{touch.id}" in seen:
            continue
        if touch.source_msg_id not in seen:
            text = " ".join(filter(None, (touch.evidence.get("text"), touch.evidence.get("title"), touch.filename)))
            merge(draft, reader.extract(text, ctx.today), name)
        if name:
            _add(draft["customers"], name)
        seen.add(f"touch:{touch.id}")
    for customer, before, after in store.day_stage_changes(ctx.session, ctx.user.id, start, end):
        _add(draft["customers"], customer)
        _add(draft["stage_changes"], {"customer": customer, "from": before, "to": after})
    draft["seen"] = sorted(seen)
    mark_contacts(draft, known_contacts(ctx, pool))
    return draft


def is_empty(draft: Data) -> bool:
    return not any(draft[key] for key in LISTS)


def _numbered(items: list[str]) -> str:
    return "  ".join(f"{n}.{item}" for n, item in enumerate(items, 1)) or TEXT["none"]


def _labels(draft: Data, key: str) -> list[str]:
    """How each item of a section reads on the card (numbered in order, as corrections count them)."""
    if key == "feedback":  # the category, and what was said when it is not the category's own name
        return [TEXT["feedback_item"].format(
            keyword=f["keyword"], words=TEXT["words_sep"].join(w for w in f.get("words", []) if w != f["keyword"]),
            polarity=TEXT[f["polarity"]]).replace("「」", "") for f in draft["feedback"]]
    if key == "contacts":
        return [TEXT["contact_item"].format(name=c["name"], title=c["title"] or TEXT["none"],
                                            customer=c["customer"] or TEXT["no_customer"]) for c in draft["contacts"]]
    if key == "stage_changes":
        return [TEXT["stage_item"].format(customer=s["customer"], before=s["from"], after=s["to"])
                for s in draft["stage_changes"]]
    if key == "amounts":
        return [a["text"] for a in draft["amounts"]]
    return [str(item) for item in draft[key]]


def todo_lines(todos: list[dict[str, Any]]) -> list[str]:
    if not todos:
        return [TEXT["no_todos"]]
    return [TEXT["todos"]] + [
        TEXT["todo_line"].format(n=n, text=t["text"], due=t["due"][5:] if t["due"] else TEXT["no_due"],
                                 customer=t["customer"] or TEXT["no_customer"]) for n, t in enumerate(todos, 1)]


def draft_card(draft: Data, key: str) -> Card:
    keys = ("customers", "keywords", "feedback", "stage_changes", "competitors", "contacts", "amounts", "notes")
    note = TEXT["draft_note"]
    if draft["truncated"]:
        note = TEXT["truncated"].format(n=nlp.MAX_CHARS) + note
    return Card(
        title=TEXT["draft_title"].format(day=draft["day"][5:]),
        fields=[(TEXT[k], _numbered(_labels(draft, k))) for k in keys if k not in ("amounts", "notes") or draft[k]],
        lines=todo_lines(draft["todos"]),
        note=note,
        buttons=[FLOW.button(key, TEXT["confirm"], "!confirm", "primary"), FLOW.button(key, TEXT["edit"], "!edit"),
                 FLOW.button(key, TEXT["append"], "!append")],
    )


def _retodo(todo: dict[str, Any], text: str, ctx: Context) -> dict[str, Any]:
    """A rewritten todo reads its own date (周五前发报价 → 发报价 due Friday); without one it keeps the old date."""
    found = nlp.extract(text, ctx.today).todos
    if not found:
        return {**todo, "text": text}
    return {**todo, "text": found[0].text, "due": found[0].due.isoformat() if found[0].due else todo["due"]}


def correct(ctx: Context, draft: Data, text: str) -> str | None:
    """Applies one correction (see EDIT_DELETE / EDIT_REPLACE); anything else becomes a note."""
    deleting, replacing = EDIT_DELETE.match(text), EDIT_REPLACE.match(text)
    match = deleting or replacing
    if match is None:
        _add(draft["notes"], text.strip()[:MAX_NOTE])
        return None
    section, n = match.group(1), int(match.group(2))
    items = draft[SECTIONS[section]]
    if not 1 <= n <= len(items):
        return TEXT["no_item"].format(section=section, n=n)
    if deleting:
        del items[n - 1]
        return None
    new = match.group(3)
    if section == "待办":
        items[n - 1] = _retodo(items[n - 1], new, ctx)
    else:
        items[n - 1] = new
    return None


class DraftStep:
    """The open draft: reviewed on a card, corrected or added to by a typed sentence, then confirmed."""

    name = "draft"

    def open(self, ctx: Context, data: Data) -> str | None:
        return None if data.get("confirmed") else data.get("mode", "review")

    def ask(self, ctx: Context, data: Data, key: str) -> Card:
        if key == "review":
            return draft_card(data["draft"], f"{self.name}:{key}")
        back = [FLOW.button(f"{self.name}:{key}", TEXT["back"], "!review")]
        if key == "edit":
            return Card(title=TEXT["edit_title"], lines=TEXT["edit_lines"], buttons=back)
        return Card(title=TEXT["append_title"], lines=TEXT["append_lines"], buttons=back)

    def answer(self, ctx: Context, data: Data, key: str, value: str) -> str | None:
        if value == "!confirm":
            data["confirmed"] = True
            return None
        if value in ("!edit", "!append", "!review"):  # the card's buttons switch what the next sentence does
            data["mode"] = value[1:]
            return None
        data["mode"] = "review"
        if key == "append":
            pool = customers.visible(ctx.session, ctx.user)
            known = known_contacts(ctx, pool)
            merge(data["draft"], extractor(ctx, pool).extract(value, ctx.today))
            mark_contacts(data["draft"], known)
            _add(data["draft"]["notes"], value.strip()[:MAX_NOTE])
            return None
        return correct(ctx, data["draft"], value)


# --- filing the report ----------------------------------------------------------------------


def flatten(body: Data) -> Data:
    """The report's lists: its quick-note draft plus every completed checklist of the day."""
    flat = {key: list((body.get("quick_note") or {}).get(key, [])) for key in LISTS}
    for checklist in body.get("checklists", []):
        _add(flat["customers"], checklist["customer"])
        for key in ("keywords", "competitors", "todos", "feedback"):
            for item in checklist.get(key, []):
                _add(flat[key], item)
    return flat


def file_report(ctx: Context, *, quick_note: Data | None = None, checklist: Data | None = None) -> tuple[Any, Data]:
    """Creates or updates the day's report: a new quick note replaces the old one, checklists accumulate."""
    existing = store.report_of(ctx.session, ctx.user.id, ctx.today)
    body = dict(existing.body) if existing else {}
    if quick_note is not None:
        body["quick_note"] = quick_note
    if checklist is not None:
        body["checklists"] = [*body.get("checklists", []), checklist]
    flat = flatten(body)
    score, tags = value(flat, ctx.rules.reports.value_tags)
    source = existing.source if existing else ("quick_note" if quick_note is not None else "checklist")
    report = store.save_report(
        ctx.session, rep_id=ctx.user.id, day=ctx.today, now=ctx.now, customers=flat["customers"],
        keywords=flat["keywords"], todos=flat["todos"], body=body, value_score=score, value_tags=tags, source=source,
    )
    return report, flat


def _sync_todos(ctx: Context, report_id: int, todos: list[dict[str, Any]], names: dict[str, Customer]) -> int:
    """Todo rows follow the report: unchanged ones are kept (with their reminder state), dropped ones removed."""
    wanted = [t for t in todos if t["text"]]
    existing = {(t.text, t.due_on): t for t in store.report_todos(ctx.session, report_id)}
    for todo in wanted:
        due = date.fromisoformat(todo["due"]) if todo["due"] else None
        if existing.pop((todo["text"], due), None) is None:
            customer = names.get(todo["customer"] or "")
            ctx.session.add(Todo(rep_id=ctx.user.id, customer_id=customer.id if customer else None,
                                 report_id=report_id, text=todo["text"], due_on=due))
    for stale in existing.values():
        if stale.done_at is None:
            ctx.session.delete(stale)
    return sum(1 for t in wanted if t["due"])


def _contacts(ctx: Context, contacts: list[dict[str, Any]], names: dict[str, Customer]) -> list[Reply]:
    """New contacts are added (and to the open opportunity's decision chain); a changed title is asked about."""
    asks = []
    for mention in contacts:
        customer = names.get(mention.get("customer") or "")
        if customer is None or customer.id is None or not mention.get("change"):
            continue
        known = store.contact_named(ctx.session, customer.id, mention["name"])
        if known is not None and known.title and known.title != mention["title"]:
            asks.append(Reply.show(Card(
                title=TEXT["contact_title"],
                lines=[TEXT["contact_line"].format(customer=customer.name, name=known.name, old=known.title,
                                                   new=mention["title"])],
                buttons=[Button(TEXT["update"], "reports:contact", {"contact": known.id, "title": mention["title"]},
                                "primary"),
                         Button(TEXT["keep"], "reports:contact", {"contact": known.id, "title": None})])))
            continue
        if known is None:
            known = Contact(customer_id=customer.id, name=mention["name"])
        known.title, known.updated_at = mention["title"], ctx.now
        ctx.session.add(known)
        _chain(ctx, customer, known.name, known.title)
    return asks


def _chain(ctx: Context, customer: Customer, name: str, title: str | None) -> None:
    opportunity = customers.open_opportunity(ctx.session, customer)
    if opportunity is None:
        return
    chain = [dict(link) for link in opportunity.decision_chain]
    for link in chain:
        if link.get("name") == name:
            link["title"] = title
            break
    else:
        chain.append({"name": name, "title": title, "role": None})
    opportunity.decision_chain = chain
    ctx.session.add(opportunity)


def _record_feedback(ctx: Context, by_customer: dict[str, Any], names: dict[str, Customer]) -> None:
    """The customers' reactions become feedback hits (once per customer, keyword and day, so a re-confirmed report
    counts nothing twice); with the health module on, each affected opportunity is rescored at once."""
    start, end = day_window(ctx)
    rescore: set[int] = set()
    for name, said in by_customer.items():
        customer = names.get(name)
        if customer is None or customer.id is None:
            continue
        opportunity = customers.open_opportunity(ctx.session, customer)
        for item in said["feedback"]:
            keyword = item["keyword"][:MAX_KEYWORD]
            if ctx.session.exec(select(FeedbackHit.id).where(
                    FeedbackHit.customer_id == customer.id, FeedbackHit.keyword == keyword,
                    FeedbackHit.polarity == item["polarity"], FeedbackHit.at >= start, FeedbackHit.at < end)).first():
                continue
            ctx.session.add(FeedbackHit(customer_id=customer.id, opportunity_id=opportunity.id if opportunity else None,
                                        keyword=keyword, polarity=item["polarity"], at=ctx.now))
            if opportunity is not None and opportunity.id is not None:
                rescore.add(opportunity.id)
    if "health" in ctx.modules:
        for opportunity_id in sorted(rescore):
            health.recompute(ctx.session, opportunity_id, ctx.now, ctx.rules, ctx.tz)


def log_fields(flat: Data, score: int, tags: list[str], fields: dict[str, list[str]]) -> dict[str, str]:
    """The DingTalk 日志's fields (template field name → markdown), each the listed sections that have content."""
    out = {}
    for name, sections in fields.items():
        lines = []
        for section in sections:
            if section == "value":
                tagged = TEXT["filed_tags"].format(tags="、".join(tags)) if tags else ""
                lines.append(TEXT["log_line"].format(label=TEXT["value"],
                                                     items=TEXT["value_line"].format(score=score, tags=tagged)))
            elif section == "todos":
                lines += todo_lines(flat["todos"]) if flat["todos"] else []
            elif flat[section]:
                lines.append(TEXT["log_line"].format(label=TEXT[section], items="、".join(_labels(flat, section))))
        out[name] = "\n\n".join(lines) or TEXT["none"]
    return out


def _file_log(ctx: Context, data: Data, report: Any, flat: Data) -> None:
    """A report confirmed on DingTalk is also filed there as a 日志 to the rep's manager, through the outbox
    (retried with backoff). While an earlier filing of this report still waits, it is replaced, not doubled."""
    rule = ctx.rules.reports.dingtalk_log
    if not rule.enabled or data.get("channel") != LOG_CHANNEL or not ctx.user.dingtalk_userid:
        return
    manager = users.manager_of(ctx.session, ctx.user)
    payload = {"template": rule.template,
               "fields": log_fields(flat, report.value_score, report.value_tags, rule.fields),
               "to": [manager.dingtalk_userid] if manager and manager.dingtalk_userid else []}
    prefix = f"{REPORT_LOG}:{report.id}:"
    waiting = outbox.pending_with_prefix(ctx.session, prefix)
    if waiting is not None and waiting.id is not None and outbox.replace_pending_payload(ctx.session, waiting.id,
                                                                                          payload):
        return
    outbox.enqueue(ctx.session, dedupe_key=f"{prefix}{ctx.now.isoformat()}", kind=REPORT_LOG, payload=payload,
                   now=ctx.now, channel=LOG_CHANNEL, user_id=ctx.user.id)


def confirm(ctx: Context, data: Data) -> list[Reply]:
    draft = data["draft"]
    named = set(draft["customers"])
    draft["by_customer"] = {k: v for k, v in draft["by_customer"].items() if k in named}
    report, flat = file_report(ctx, quick_note=draft)
    names = {c.name: c for c in customers.visible(ctx.session, ctx.user)}
    assert report.id is not None
    reminded = _sync_todos(ctx, report.id, flat["todos"], names)
    _record_feedback(ctx, draft["by_customer"], names)
    _file_log(ctx, data, report, flat)
    tags = TEXT["filed_tags"].format(tags="、".join(report.value_tags)) if report.value_tags else ""
    todos = TEXT["filed_todos"].format(n=reminded) if reminded else ""
    filed = Reply.say(TEXT["filed"].format(day=draft["day"], score=report.value_score, tags=tags, todos=todos))
    return [filed, *_contacts(ctx, draft["contacts"], names)]


FLOW = Flow("reports", [DraftStep()], confirm)


def quick_note(event: Event, ctx: Context) -> list[Reply]:
    filed = store.report_of(ctx.session, ctx.user.id, ctx.today)
    draft = build_draft(ctx, filed.body.get("quick_note") if filed else None)
    if is_empty(draft):
        return [Reply.show(Card(title=TEXT["empty_title"], lines=TEXT["empty_lines"]))]
    ctx.dialog = None  # a new draft replaces any open dialog
    # `channel`: where the rep works; a draft confirmed there may also be filed there (`_file_log`)
    return FLOW.proceed(ctx, {"draft": draft, "mode": "review", "channel": event.channel})


def contact_answer(event: Event, ctx: Context) -> list[Reply]:
    contact = ctx.session.get(Contact, ctx.action_data.get("contact"))
    customer = ctx.session.get(Customer, contact.customer_id) if contact else None
    if contact is None or customer is None or not customers.can_see(ctx.session, ctx.user, customer):
        return [Reply.say(TEXT["contact_gone"])]
    title = ctx.action_data.get("title")
    if title:
        contact.title, contact.updated_at = title, ctx.now
        ctx.session.add(contact)
        _chain(ctx, customer, contact.name, title)
        answer = TEXT["contact_updated"].format(name=contact.name, title=title)
    else:
        answer = TEXT["contact_kept"].format(name=contact.name, title=contact.title)
    return [Reply.update(Card(title=TEXT["contact_title"], lines=[answer]))]


def todo_done(event: Event, ctx: Context) -> list[Reply]:
    todo = ctx.session.get(Todo, ctx.action_data.get("todo"))
    if todo is None or todo.rep_id != ctx.user.id:
        return [Reply.say(TEXT["todo_gone"])]
    todo.done_at = todo.done_at or ctx.now
    ctx.session.add(todo)
    return [Reply.say(TEXT["todo_done"].format(text=todo.text))]


ROUTES: list[Route] = private_routes([
    on_command("日报速记", quick_note, usage=TEXT["usage"], help=TEXT["help"]),
    *FLOW.routes(),
    on_action("reports:contact", contact_answer),
    on_action("reports:todo_done", todo_done),
])
