"""A tenant's words (customers, contacts, vocabulary, feedback phrases) and the indexes built from them."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from nlp.feedback import FeedbackMatcher
from nlp.names import core_name, derived_aliases, without_region
from nlp.segment import TermIndex, cut, fold

TYPO_MIN_LENGTH = 6  # names this long are still recognised with one wrong character


class CustomerTerm(NamedTuple):
    name: str  # canonical full name
    explicit: bool  # the name itself or an alias the tenant gave, rather than a derived short form


class ContactEntry(NamedTuple):
    name: str
    title: str | None
    customer: str | None


@dataclass
class Lexicon:
    """What one tenant's texts are matched against. Treat it as a value: to change it, build a
    new one (or mutate and let the next `index()` notice); indexes are rebuilt on change."""

    customers: list[tuple[str, list[str]]] = field(default_factory=list)
    contacts: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    competitors: list[str] = field(default_factory=list)
    demands: list[str] = field(default_factory=list)
    feedback_negative: dict[str, list[str]] = field(default_factory=dict)  # category → phrases
    feedback_positive: dict[str, list[str]] = field(default_factory=dict)
    _cache: tuple[tuple[Any, ...], LexiconIndex] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_vocabulary(
        cls,
        data: Mapping[str, Any] | None,
        customers: Iterable[str | tuple[str, Iterable[str]]] = (),
        contacts: Iterable[tuple[str, str | None, str | None]] = (),
    ) -> Lexicon:
        """From the parsed rules/defaults/reports.yaml (keys `vocabulary`, `feedback`) plus the
        tenant's customers (a name, or name and aliases) and known contacts."""
        data = data or {}
        vocabulary = _section(data, "vocabulary")
        feedback = _section(data, "feedback")
        return cls(
            customers=[(c, []) if isinstance(c, str) else (c[0], list(c[1])) for c in customers],
            contacts=[(n, t, c) for n, t, c in contacts],
            products=_strings(vocabulary, "vocabulary.products"),
            competitors=_strings(vocabulary, "vocabulary.competitors"),
            demands=_strings(vocabulary, "vocabulary.demands"),
            feedback_negative=_categories(feedback, "feedback.negative"),
            feedback_positive=_categories(feedback, "feedback.positive"),
        )

    def _content(self) -> tuple[Any, ...]:
        return (self.customers, self.contacts, self.products, self.competitors, self.demands,
                tuple(self.feedback_negative.items()), tuple(self.feedback_positive.items()))

    def index(self) -> LexiconIndex:
        """The matching structures, built on first use and rebuilt when the content changed.

        The content is compared with a deep copy kept from the last build: one comparison per extraction, where
        turning every list into a tuple to compare cost as much as a fifth of a short message's extraction. A
        lexicon with the same content as a recent one (a rep's next draft) shares that one's index."""
        content = self._content()
        if self._cache is None or self._cache[0] != content:
            self._cache = (copy.deepcopy(content), shared_index(self._fingerprint()))
        return self._cache[1]

    def _fingerprint(self) -> Fingerprint:
        return (
            tuple((name, tuple(aliases)) for name, aliases in self.customers),
            tuple(self.contacts),
            tuple(self.products),
            tuple(self.competitors),
            tuple(self.demands),
            _frozen(self.feedback_negative),
            _frozen(self.feedback_positive),
        )


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise ValueError(f"reports.yaml: {key}: expected a mapping")
    return value


def _strings(section: Mapping[str, Any], path: str) -> list[str]:
    value = section.get(path.rsplit(".", 1)[1]) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"reports.yaml: {path}: expected a list of strings")
    return [v.strip() for v in value if v.strip()]


def _categories(section: Mapping[str, Any], path: str) -> dict[str, list[str]]:
    """Feedback categories (category → phrases); the older plain list makes each phrase its own category."""
    value = section.get(path.rsplit(".", 1)[1]) or {}
    if isinstance(value, list):
        return {phrase: [phrase] for phrase in _strings(section, path)}
    if not isinstance(value, Mapping):
        raise ValueError(f"reports.yaml: {path}: expected a mapping of category to phrases")
    return {str(category).strip(): _strings(value, f"{path}.{category}") for category in value}


class LexiconIndex:
    """Term indexes (the per-tenant user dictionary) and fuzzy-matching material for one Lexicon."""

    def __init__(self, lexicon: Lexicon) -> None:
        entries: list[tuple[str, CustomerTerm]] = []
        self.surfaces: dict[str, list[str]] = {}  # canonical → folded names it is known by
        for name, aliases in lexicon.customers:
            explicit = [name, *aliases]
            derived = derived_aliases(name)
            entries += [(term, CustomerTerm(name, True)) for term in explicit]
            entries += [(term, CustomerTerm(name, False)) for term in derived]
            forms = [*explicit, core_name(name), without_region(core_name(name))]
            self.surfaces[name] = list(dict.fromkeys(fold(f) for f in forms if f))
        self.customers: TermIndex[CustomerTerm] = TermIndex(entries)
        # Fuzzy material: every surface and its owner; long cores by their first two characters.
        self.fuzzy_surfaces = [s for surfaces in self.surfaces.values() for s in surfaces]
        self.fuzzy_owners = [name for name, surfaces in self.surfaces.items() for _ in surfaces]
        self._tokens: dict[int, str] = {}
        self.long_cores: dict[str, list[tuple[str, str]]] = {}
        for name in self.surfaces:
            core = fold(core_name(name))
            if len(core) >= TYPO_MIN_LENGTH:
                self.long_cores.setdefault(core[:2], []).append((core, name))
        self.contacts: TermIndex[ContactEntry] = TermIndex(
            (name, ContactEntry(name, title, customer)) for name, title, customer in lexicon.contacts
        )
        self.competitors: TermIndex[str] = TermIndex((c, c) for c in lexicon.competitors)
        self.vocabulary: TermIndex[str] = TermIndex((w, w) for w in [*lexicon.demands, *lexicon.products])
        self.feedback = feedback_matcher(_frozen(lexicon.feedback_negative), _frozen(lexicon.feedback_positive))

    def surface_tokens(self, i: int) -> str:
        """jieba tokens of fuzzy surface `i`, cut on first use (cutting every name up front costs seconds)."""
        if i not in self._tokens:
            self._tokens[i] = " ".join(w for w in cut(self.fuzzy_surfaces[i]) if w.strip())
        return self._tokens[i]

    def resolve(self, values: Iterable[CustomerTerm]) -> list[str]:
        """Canonical names a term stands for; an explicit alias beats derived short forms."""
        values = list(values)
        best = [v for v in values if v.explicit] or values
        return list(dict.fromkeys(v.name for v in best))


Taxonomy = tuple[tuple[str, tuple[str, ...]], ...]


def _frozen(categories: dict[str, list[str]]) -> Taxonomy:
    return tuple((category, tuple(phrases)) for category, phrases in categories.items())


Fingerprint = tuple[Any, ...]


@lru_cache(maxsize=16)
def shared_index(fingerprint: Fingerprint) -> LexiconIndex:
    """One index per lexicon content, kept for the last few contents: each draft builds a lexicon from the rep's
    customers, which rarely change between one draft and the next, and the index costs a third of a jieba pass
    over a day's messages to build."""
    customers, contacts, products, competitors, demands, negative, positive = fingerprint
    return LexiconIndex(Lexicon(
        customers=[(name, list(aliases)) for name, aliases in customers], contacts=list(contacts),
        products=list(products), competitors=list(competitors), demands=list(demands),
        feedback_negative={k: list(v) for k, v in negative}, feedback_positive={k: list(v) for k, v in positive}))


@lru_cache(maxsize=8)
def feedback_matcher(negative: Taxonomy, positive: Taxonomy) -> FeedbackMatcher:
    """One compiled matcher per feedback taxonomy, shared by every lexicon using it: its ≈1 800 patterns cost ≈0.3 s
    to compile, and a draft builds a new lexicon (the rep's customers) each time while the taxonomy rarely changes."""
    return FeedbackMatcher(dict(negative), dict(positive))
