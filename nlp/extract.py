"""One chat text → the 日报速记 structure (customers, contacts, keywords, feedback, todos, amounts, competitors)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from nlp.amounts import find_amounts
from nlp.competitors import GENERIC, find_competitors
from nlp.contacts import TITLES, ContactMention, find_contacts
from nlp.customers import CustomerMention, find_customers, match_in_index
from nlp.dates import find_dates
from nlp.feedback import NEGATOR, first_per_category
from nlp.lexicon import Lexicon, LexiconIndex
from nlp.segment import Hit, fold, keywords
from nlp.todos import find_todos

# Longer input is cut here: a day's notes fit many times over, and every step stays bounded
# (≈0.2 s for a full-length text); Extraction.truncated says when it happened.
MAX_CHARS = 5000
MAX_KEYWORDS = 10
TAG_LIMIT = 3  # keywords taken from TF-IDF on top of vocabulary hits
NEGATION_LOOKBACK = 3  # characters before a vocabulary word searched for a negation (不用走审批)
# Nouns TF-IDF likes that say nothing about a deal.
KEYWORD_STOPWORDS = {
    "客户", "公司", "项目", "情况", "问题", "时候", "事情", "东西", "老板", "领导", "对方", "时间", "进展", "方面", "部门",
    "单子", "消息", "电话", "微信", "信息", "内容", "材料", "人员", "团队", "这单", "那边", "这边", "原则", "结果", "资料",
    "技术", "采购", "采购部", "需求", "系统", "ceo", "cto", "cfo", "coo", "cio", "vp",
}


@dataclass(frozen=True)
class Customer:
    name: str
    mention: str


@dataclass(frozen=True)
class Contact:
    name: str
    title: str | None
    customer: str | None


@dataclass(frozen=True)
class Feedback:
    keyword: str  # the canonical category
    polarity: str
    words: str = ""  # what the text said that triggered it


@dataclass(frozen=True)
class Todo:
    text: str
    due: date | None
    customer: str | None


@dataclass(frozen=True)
class Amount:
    text: str
    value: int


@dataclass(frozen=True)
class Ambiguity:
    """A mention that fits several customers about equally: ask which one is meant."""

    mention: str
    candidates: list[str]


@dataclass(frozen=True)
class Extraction:
    customers: list[Customer] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    demands: list[str] = field(default_factory=list)  # not in to_dict(): the vocabulary's words only (诉求 on a draft)
    feedback: list[Feedback] = field(default_factory=list)
    todos: list[Todo] = field(default_factory=list)
    amounts: list[Amount] = field(default_factory=list)
    competitors: list[str] = field(default_factory=list)
    ambiguous: list[Ambiguity] = field(default_factory=list)  # not in to_dict(): for the caller to ask
    unknown: list[str] = field(default_factory=list)  # organisation-like mentions of no known customer
    truncated: bool = False  # the text was longer than MAX_CHARS

    def to_dict(self) -> dict[str, Any]:
        """Exactly the CONTRACT's `liuhen nlp extract` shape."""
        return {
            "customers": [{"name": c.name, "mention": c.mention} for c in self.customers],
            "contacts": [{"name": c.name, "title": c.title, "customer": c.customer} for c in self.contacts],
            "keywords": list(self.keywords),
            "feedback": [{"keyword": f.keyword, "polarity": f.polarity, "words": f.words} for f in self.feedback],
            "todos": [
                {"text": t.text, "due": t.due.isoformat() if t.due else None, "customer": t.customer} for t in self.todos
            ],
            "amounts": [{"text": a.text, "value": a.value} for a in self.amounts],
            "competitors": [{"name": c} for c in self.competitors],
        }


class Extractor:
    """Extraction against one tenant's Lexicon; cheap to build, reusable, safe to share between threads."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon

    def extract(self, text: str, today: date) -> Extraction:
        """Relative dates resolve against `today` (the business date in the tenant's time zone)."""
        truncated = len(text) > MAX_CHARS
        text = text[:MAX_CHARS]
        folded = fold(text)
        index = self.lexicon.index()

        mentions = find_customers(folded, index)
        taken = [(m.start, m.end) for m in mentions]
        resolved = [m for m in mentions if m.match.best and not m.match.ambiguous]
        contacts = find_contacts(text, folded, index, taken)
        dates = find_dates(folded, today)
        amounts = [a for a in find_amounts(folded) if not _inside(a.start, taken)]
        competitors = find_competitors(text, folded, index.competitors, taken)
        rivals = [m.span() for name in competitors if name not in GENERIC for m in re.finditer(re.escape(fold(name)), folded)]
        feedback = index.feedback.find_all(folded, rivals)  # every hit masks its words; each category is reported once
        todos = find_todos(text, folded, dates, today, [(a.start, a.end) for a in amounts] + [(f.start, f.end) for f in feedback])
        spans = [*mentions, *contacts, *amounts, *dates, *index.competitors.find(folded), *feedback]
        masked = _mask(folded, [(s.start, s.end) for s in spans])
        vocabulary_hits = index.vocabulary.find(folded)
        vocabulary: dict[str, int] = {}
        for hit in vocabulary_hits:
            vocabulary.setdefault(hit.values[0], hit.start)
        said = [(a.start, a.end) for a in amounts] + [(f.start, f.end) for f in feedback]
        return Extraction(
            customers=_unique([Customer(str(m.match.best), text[m.start : m.end]) for m in resolved], key=lambda c: c.name),
            contacts=[Contact(c.name, *_contact_customer(c, resolved, index)) for c in contacts],
            keywords=_keywords(text, folded, masked, vocabulary),
            demands=_demands(folded, vocabulary_hits, said),
            feedback=[Feedback(h.keyword, h.polarity, text[h.start : h.end]) for h in first_per_category(feedback)],
            todos=_unique(
                [Todo(t.text, t.due, _customer_at(t.start, t.end, resolved)) for t in todos if t.text], key=lambda t: t.text
            ),
            amounts=[Amount(text[a.start : a.end].strip(), a.value) for a in amounts],
            competitors=competitors,
            ambiguous=_unique(
                [Ambiguity(text[m.start : m.end], [n for n, _ in m.match.candidates]) for m in mentions if m.match.ambiguous],
                key=lambda a: a.mention,
            ),
            unknown=_unique([text[m.start : m.end] for m in mentions if m.match.best is None], key=lambda u: u),
            truncated=truncated,
        )


def extract(text: str, today: date, lexicon: Lexicon | None = None) -> Extraction:
    """One-off extraction; build an Extractor to reuse a lexicon."""
    return Extractor(lexicon or Lexicon()).extract(text, today)


def _contact_customer(
    c: ContactMention, resolved: list[CustomerMention], index: LexiconIndex
) -> tuple[str | None, str | None]:
    """(title, customer): a known contact's customer, a customer named in brackets (王总(华东医疗)),
    else the customer last mentioned before the contact, else the only customer of the text."""
    if c.customer:
        return c.title, c.customer
    if c.role_text:
        match = match_in_index(c.role_text, index)
        if match.best and not match.ambiguous and match.candidates[0][1] >= 95:
            return None, match.best
    before = [m for m in resolved if m.end <= c.start]
    if before:
        return c.title, before[-1].match.best
    names = {m.match.best for m in resolved}
    return c.title, names.pop() if len(names) == 1 else None


def _keywords(text: str, folded: str, masked: str, vocabulary: dict[str, int]) -> list[str]:
    """Vocabulary hits (word → first position), then up to TAG_LIMIT TF-IDF nouns from the rest, in order of appearance."""
    found = dict(vocabulary)
    taken = [fold(w) for w in found]  # what is found, folded once rather than for every candidate
    for word in keywords(masked, 4 * TAG_LIMIT):
        if len(taken) - len(vocabulary) == TAG_LIMIT:
            break
        at = folded.find(word)
        if at < 0 or not _telling(word) or any(word in w or w in word for w in taken):
            continue
        found[text[at : at + len(word)]] = at
        taken.append(fold(text[at : at + len(word)]))
    return sorted(found, key=found.__getitem__)[:MAX_KEYWORDS]


def _demands(folded: str, hits: list[Hit[str]], said: list[tuple[int, int]]) -> list[str]:
    """The vocabulary's words (their hits in the text) as the customer's demands: not inside an amount or a
    feedback phrase (预算80万, 报价更低) and not negated (不用走审批)."""
    found: list[str] = []
    for hit in hits:
        before = folded[max(0, hit.start - NEGATION_LOOKBACK) : hit.start]
        if not _inside(hit.start, said) and not NEGATOR.search(before) and hit.values[0] not in found:
            found.append(hit.values[0])
    return found


def _telling(word: str) -> bool:
    return (
        len(word) >= 2
        and word not in KEYWORD_STOPWORDS
        and word not in TITLES
        and not word.endswith("说")
        and not any(c.isdigit() for c in word)
    )


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= position < e for s, e in spans)


def _customer_at(start: int, end: int, resolved: list[CustomerMention]) -> str | None:
    """The customer named in a todo, else the one last named before it."""
    inside = [m for m in resolved if start <= m.start < end]
    if inside:
        return inside[0].match.best
    before = [m for m in resolved if m.end <= start]
    return before[-1].match.best if before else None


def _mask(folded: str, spans: list[tuple[int, int]]) -> str:
    chars = list(folded)
    for start, end in spans:
        chars[start:end] = "，" * (end - start)
    return "".join(chars)


def _unique(items: list[Any], key: Any) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out
