"""Todos: clauses that plan an action or name a future date, with their due date and customer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from nlp.dates import DateMention

# A plan of ours: a verb of action or a modal before one (Chinese, and the English reps mix in).
INTENT = re.compile(
    r"安排|准备|跟进|提交|记得|计划|回访|落实|催|整理|(?<!保持)联系|拜访|上门|汇报|(?<![签合节预大制公条契])约(?![定束合\d一二两三四五六七八九十百千万])|发(?!现|展|生|布|票)|把|补齐|补充|搭|完成|"
    r"给.{0,8}(?:发|报|回复|答复|做|演示|讲|送|寄|打)|出(?=.{0,2}(?:方案|报价|初稿|一版|个|份))|去(?!年|掉|除)|"
    r"再(?:约|跟|去|聊|找|催|发|对|打|推|改|联系|沟通|确认|评估)|(?:要|需要|得)(?:给|发|出|做|准备|提交|去|找|跟|把|完成|拿|再|重新)|"
    r"沟通一下|确认一下|电话|派|待办|\b(?:follow\s+up|send|schedule|prepare|call|meet|demo|poc|todo)\b"
)
# Done already, or a report of the past.
PAST = re.compile(r"已经|已(?!批)|了(?!解)|刚|昨天|上周|之前(?=\S*了)")
# The customer putting things off or stating a condition: no action of ours.
NOT_A_PLAN = re.compile(
    r"再说|不会|不做|不了|不完|不成|来不及|才能|最快|最早|估计要到|可能要|不着急|没空|先这样|考虑|不然|出差|休假|请假|不在"
)
# A dated signing or payment (预计12月20号签, 下月15号付款): an expected close or receipt, not a todo of ours.
EXPECTED = re.compile(r"签(?!到|字)|付款|回款|到账|打款|结款|尾款|首付|付清")
# Someone else speaking; their plans are ours only when addressed to us (让我们…, 要求我们…).
REPORTED = re.compile(r"说|表示|反馈|觉得|认为|提到|透露|称")
TO_US = re.compile(r"(?:让|要|请|叫|希望|要求)(?:我们|我方|我)")
# Someone other than us as the subject: 他们要做BI报表 is their need, not our plan.
THIRD_PERSON = re.compile(r"\s*(?:他们|她们|他|她|对方|客户|甲方|院方|校方|厂方|领导)")
# A clause continuing the one before rather than starting a todo of its own.
CONTINUES = re.compile(r"\s*(?:争取|尽量|顺便|以便|为了|附上)")
# 上午去了A，下午拜访B: in a report of the day, a part of the day without a clock time is past.
PART_OF_DAY = re.compile(r"\s*(?:早上|上午|中午|下午|晚上|傍晚)(?!\s*\d|[一二两三四五六七八九十]+点)")
US = re.compile(r"我们|我方|咱们|我")
# Words starting a todo that add nothing to it.
LEADING = re.compile(r"(?:[\s\-•·*>]|\d+[.、)）]|[①-⑩]|然后|另外|还有|并且|同时|顺便|我这边|我们|我方|我|这边|todo|待办)+", re.I)
HEADER = re.compile(r"^\s*(?:\S{0,8}(?:计划|安排|待办|todo|下一步|后续|跟进事项)|\S{0,8}[:：])\s*[:：]?\s*$", re.I)
LIST_ITEM = re.compile(r"^\s*(?:\d+[.、)）]|[-•·*]|[①-⑩])\s*")
_SENTENCE_END = re.compile(r"[。！？!?；;\n]|\.(?=\s|$)|[\U0001F000-\U0001FFFF\u2600-\u27BF\u2B00-\u2BFF]+")
_CLAUSE_END = re.compile(r"[，,]|(?<!\d)[:：](?!\d)")
_LINE_END = re.compile(r"\n")


@dataclass(frozen=True)
class TodoMention:
    start: int
    end: int
    text: str
    due: date | None


@dataclass
class _Clause:
    start: int
    end: int
    dates: list[DateMention]


@dataclass
class _Open:
    """A todo being built from one or more clauses."""

    start: int
    end: int
    due: date | None


def _spans(text: str, pattern: re.Pattern[str], start: int, end: int) -> list[tuple[int, int]]:
    spans, at = [], start
    for m in pattern.finditer(text, start, end):
        spans.append((at, m.start()))
        at = m.end()
    spans.append((at, end))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _due(clause: _Clause, context: date | None, today: date) -> tuple[bool, date | None]:
    """(has a time expression of its own, the due date) for a clause."""
    for d in clause.dates:
        if d.kind == "date" and d.due is not None:
            return True, d.due
    for d in clause.dates:
        if d.kind == "time":
            return True, context or today
        if d.kind == "vague":
            return True, None
    return False, context


def find_todos(
    text: str, folded: str, dates: list[DateMention], today: date, blocks: Sequence[tuple[int, int]] = ()
) -> list[TodoMention]:
    """Todos in order. A clause with a future date is a todo unless it is the customer putting
    things off; one without a date needs an action verb of ours, not a report of the past nor of
    what someone else said or needs. A clause that only continues a todo joins it; an action
    clause with no date of its own takes its sentence's date, and list items under a header
    (明日计划：) take the header's. `blocks` (amounts, feedback) mark clauses that report rather
    than plan."""
    todos: list[TodoMention] = []
    header_due: date | None = None
    in_list = narrative = False
    for line_start, line_end in _spans(folded, _LINE_END, 0, len(folded)):
        line = folded[line_start:line_end]
        line_dates = [d for d in dates if line_start <= d.start < line_end]
        if HEADER.match(line):
            header_due = next((d.due for d in line_dates if d.kind == "date"), None)
            in_list = True
            continue
        if in_list and LIST_ITEM.match(line):
            todos += _sentence_todos(text, folded, (line_start, line_end), line_dates, today, header_due, blocks, item=True)
            continue
        in_list = False
        for s, e in _spans(folded, _SENTENCE_END, line_start, line_end):
            sentence_dates = [d for d in line_dates if s <= d.start < e]
            todos += _sentence_todos(text, folded, (s, e), sentence_dates, today, None, blocks, narrative=narrative)
            narrative = narrative or bool(PAST.search(folded, s, e))
    return todos


def _sentence_todos(
    text: str,
    folded: str,
    span: tuple[int, int],
    dates: list[DateMention],
    today: date,
    context: date | None,
    blocks: Sequence[tuple[int, int]],
    item: bool = False,
    narrative: bool = False,
) -> list[TodoMention]:
    """Todos of one sentence (or list item, taken whole). `speaking` is set by a clause reporting
    someone else's words and carries over the following clauses until one speaks of us."""
    pieces = [span] if item else _spans(folded, _CLAUSE_END, *span)
    found: list[_Open] = []
    pending_context = open_todo = speaking = False
    for clause in (_Clause(s, e, [d for d in dates if s <= d.start < e]) for s, e in pieces):
        body = folded[clause.start : clause.end]
        dated, due = _due(clause, context, today)
        own_dates = [d.due for d in clause.dates if d.kind == "date" and d.due is not None]
        future = any(d > today for d in own_dates)
        blocked = any(s < clause.end and clause.start < e for s, e in blocks)
        reporting = bool(PAST.search(body) or NOT_A_PLAN.search(body))
        if REPORTED.search(body) and not TO_US.search(body):
            speaking = True
        elif US.search(body):
            speaking = False
        intent = bool(INTENT.search(body))
        if _only_dates(body, clause):
            starts = False  # 下周：准备招标文件 — the date is context for what follows
        elif item:
            starts = not (reporting or (blocked and not intent and not future))
        elif future:
            starts = not NOT_A_PLAN.search(body) and not (EXPECTED.search(body) and not intent)
        elif any(d < today for d in own_dates):
            starts = False
        else:
            starts = (
                intent
                and not (reporting or blocked or THIRD_PERSON.match(body))
                and not (speaking and not pending_context)
                and not (narrative and PART_OF_DAY.match(body))
            )
        continues = open_todo and not (speaking or blocked or reporting)
        if starts and continues and not dated and CONTINUES.match(body):
            starts = False
        if starts and pending_context and not future:
            found.pop()  # 刘老师说下下周一校长有空，可以安排…: the date was context for this action
        if starts:
            found.append(_Open(clause.start, clause.end, due))
            pending_context = future and speaking and not intent
            open_todo = True
        elif continues:
            found[-1].end = clause.end
            pending_context = False
        else:
            open_todo = pending_context = False
        if dated and due is not None:
            context = due
    return [_todo(text, folded, t, dates) for t in found]


def _only_dates(body: str, clause: _Clause) -> bool:
    rest = list(body)
    for d in clause.dates:
        rest[d.start - clause.start : d.end - clause.start] = " " * (d.end - d.start)
    return bool(clause.dates) and not re.sub(r"[\W_]", "", "".join(rest))


def _todo(text: str, folded: str, todo: _Open, dates: list[DateMention]) -> TodoMention:
    """The clause text without leading filler words, nor a leading date when it resolved (the
    date is in `due`): 下周三安排技术总监做方案演示 → 安排技术总监做方案演示."""
    start, end = todo.start, todo.end
    for _ in range(2):
        if m := LEADING.match(folded, start, end):
            start = m.end()
        leading = next((d for d in dates if d.start == start and d.kind == "date" and d.due is not None), None)
        if leading and leading.end < end:
            start = leading.end
    return TodoMention(start, end, text[start:end].strip(), todo.due)
