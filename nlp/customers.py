"""Customer mentions → known customers: exact alias or prefix first, then rapidfuzz, with ambiguity."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from nlp.lexicon import Lexicon, LexiconIndex
from nlp.names import core_name, without_region
from nlp.segment import cut, fold, pos_cut

FLOOR = 60.0  # below this the best candidate is no candidate at all
ACCEPT = 75.0  # a fuzzy match found in free text is taken only from here up
MARGIN = 5.0  # top two closer than this → ask which one
TYPO_SCORE = 83.0  # one wrong character in six still matches (华东医了器械)
PREFILTER = 30  # surfaces scored in full after a fast partial_ratio pass over all of them
MAX_FUZZY_SPANS = 20  # unknown organisation names looked up per text; the rest are only listed
# Words that end an organisation's name; a span ending in one is looked up even when unknown.
ORG_ENDINGS = re.compile(
    r"(?:股份有限公司|有限责任公司|有限公司|集团|公司|医院|银行|证券|大学|学院|中学|小学|学校|研究院|研究所|中心|管理局|局|委员会|厂|超市|分行|支行)"
)
# A name followed by these is a place (中国平安大厦), not the customer.
PLACE_AFTER = re.compile(r"大厦|大楼|广场|园区|门口|楼下|附近|地铁站")
# Parts of speech that cannot be inside an organisation's name (verbs, particles, pronouns, time words…).
_NOT_IN_NAME = ("v", "p", "c", "u", "r", "d", "t", "x", "m", "q", "y", "e", "o", "z", "f")


@dataclass(frozen=True)
class MatchResult:
    """best: the chosen canonical name (None if nothing is close); candidates: (name, score)
    best first; ambiguous: the top two are too close to choose — ask the user."""

    best: str | None
    candidates: list[tuple[str, float]] = field(default_factory=list)
    ambiguous: bool = False


@dataclass(frozen=True)
class CustomerMention:
    start: int
    end: int
    mention: str
    match: MatchResult


def _tokens(text: str) -> str:
    return " ".join(w for w in cut(text) if w.strip())


def _from_names(names: list[str], score: float) -> MatchResult:
    if len(names) == 1:
        return MatchResult(names[0], [(names[0], score)], False)
    return MatchResult(names[0], [(n, score) for n in names], True)


def match_customer(mention: str, lexicon: Lexicon) -> MatchResult:
    """Which known customer `mention` means: an exact name or alias, then a unique prefix, then a
    name the mention contains, then fuzzy scores. Not a reliable rejector of unknown names: when
    the top two are within MARGIN points the result is ambiguous and the caller should ask."""
    return match_in_index(mention, lexicon.index())


def match_in_index(mention: str, index: LexiconIndex) -> MatchResult:
    """match_customer against an index already in hand."""
    key = fold(mention.strip())
    if not key:
        return MatchResult(None)
    exact = index.customers.get(key)
    if exact:
        return _from_names(index.resolve(exact), 100.0)
    if len(key) >= 2:
        prefixed = [name for name, surfaces in index.surfaces.items() if any(s.startswith(key) for s in surfaces)]
        if prefixed:
            return _from_names(prefixed, 100.0)
    contained = index.customers.find(key)
    if contained:
        longest = max(contained, key=lambda h: h.end - h.start)
        return _from_names(index.resolve(longest.values), 95.0)
    return _fuzzy(key, index)


def _fuzzy(key: str, index: LexiconIndex) -> MatchResult:
    """partial_ratio over every surface (fast, in C) picks PREFILTER surfaces; those are scored as
    the mean of partial_ratio and token_set_ratio on jieba tokens, best surface per customer."""
    probe = without_region(core_name(key)) or key
    probe_tokens = _tokens(probe)
    best: dict[str, float] = {}
    for _, _, i in process.extract(probe, index.fuzzy_surfaces, scorer=fuzz.partial_ratio, limit=PREFILTER):
        score = 0.5 * fuzz.partial_ratio(probe, index.fuzzy_surfaces[i])
        score += 0.5 * fuzz.token_set_ratio(probe_tokens, index.surface_tokens(i))
        name = index.fuzzy_owners[i]
        best[name] = max(best.get(name, 0.0), round(score, 1))
    scored = sorted(best.items(), key=lambda item: -item[1])[:5]
    if not scored or scored[0][1] < FLOOR:
        return MatchResult(None, scored, False)
    ambiguous = len(scored) > 1 and scored[0][1] - scored[1][1] < MARGIN
    return MatchResult(scored[0][0], scored, ambiguous)


def _org_spans(folded: str, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Unknown organisation-like spans: words before an ending such as 公司 or 医院, walking left
    while the words can be part of a name."""
    spans = []
    for m in ORG_ENDINGS.finditer(folded):
        if any(s <= m.start() < e for s, e in taken):
            continue
        left = max(0, m.start() - 16)
        window = re.split(r"[\s，。！？；,.!?;:：、()（）]", folded[left : m.start()])[-1]
        words = pos_cut(window)
        kept = 0
        for word, flag in reversed(words):
            if flag.startswith(_NOT_IN_NAME) and not flag.startswith(("vn",)):
                break
            kept += len(word)
        start = max([m.start() - kept] + [e for _, e in taken if e <= m.start()])
        if m.start() - start >= 2:
            spans.append((start, m.end()))
    return spans


def _typo_mentions(folded: str, index: LexiconIndex, taken: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """Long names written with one wrong character (华东医了器械). Only windows that start with a
    name's first two characters are compared — a different region or brand is no typo — so the
    scan stays linear in the text."""
    found: list[tuple[int, int, str]] = []
    i = 0
    while i < len(folded) - 1:
        hit = None
        for core, name in index.long_cores.get(folded[i : i + 2], ()):
            for length in (len(core), len(core) - 1, len(core) + 1):
                window = folded[i : i + length]
                end = i + len(window)
                if window != core and fuzz.ratio(core, window) >= TYPO_SCORE and not _overlaps(i, end, taken):
                    hit = (i, end, name)
                    break
            if hit:
                break
        if hit:
            found.append(hit)
            i = hit[1]
        else:
            i += 1
    return found


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)


def find_customers(folded: str, lexicon: Lexicon | LexiconIndex) -> list[CustomerMention]:
    """Customer mentions in `folded` text in order: exact terms, unknown organisation-like spans
    scored fuzzily, and one-character typos of long names."""
    index = lexicon.index() if isinstance(lexicon, Lexicon) else lexicon
    mentions: list[CustomerMention] = []
    for hit in index.customers.find(folded):
        if PLACE_AFTER.match(folded, hit.end):
            continue
        mentions.append(CustomerMention(hit.start, hit.end, hit.term, _from_names(index.resolve(hit.values), 100.0)))
    taken = [(m.start, m.end) for m in mentions]
    for n, (start, end) in enumerate(_org_spans(folded, taken)):
        result = match_in_index(folded[start:end], index) if n < MAX_FUZZY_SPANS else MatchResult(None)
        if not (result.best and (result.ambiguous or result.candidates[0][1] >= ACCEPT)):
            result = MatchResult(None, result.candidates)
        mentions.append(CustomerMention(start, end, folded[start:end], result))
    if index.surfaces:
        taken = [(m.start, m.end) for m in mentions]
        for start, end, name in _typo_mentions(folded, index, taken):
            mentions.append(CustomerMention(start, end, folded[start:end], MatchResult(name, [(name, TYPO_SCORE)])))
    return sorted(mentions, key=lambda m: m.start)
