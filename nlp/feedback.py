"""Customer feedback as canonical categories with polarity: gap-tolerant phrase matching plus a negation check."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from nlp.segment import cut, fold

# Interchangeable words inside a phrase (需要审批 also matches 要上会审批, 得走流程).
WORD_VARIANTS = {
    "需要": ("需要", "还要", "还得", "要", "得", "需"),
    "价格": ("价格", "报价", "价钱", "价位", "费用", "单价", "price"),
    "高": ("高", "贵"),
    "审批": ("审批", "走流程", "上会", "批准"),
    "竞品": ("竞品", "友商", "竞争对手", "对手"),
    "便宜": ("便宜", "低"),
    "不好": ("不好", "一般", "不理想", "不行", "差"),
    "不够": ("不够", "不足", "有限", "紧张"),
    "没有": ("没有", "没"),
    "长": ("长", "复杂", "繁琐"),
}
# Degree words that may sit inside a phrase without changing it (价格有点高).
DEGREE = {"很", "太", "更", "比较", "有点", "偏", "非常", "特别", "挺", "蛮", "略", "稍", "十分"}
NEGATOR = re.compile(r"不(?![过少错断仅但管论久同然如止妨])|没|无需|无须|无$|未(?!来)|(?<![特区分级告识类性个差])别(?!的|人)|毫无|并非")
# A hit followed by these is part of a noun, not feedback: 满意度, 审批流, 贵公司.
COMPOUND_AFTER = re.compile(r"度|流(?!程)|单|表(?!示|达|态)|(?<=贵)(?:公司|司|方|单位|院|校|行)")
# A positive word right after these is our own plan, not the customer's feedback (周五前确认报价).
ACTION_BEFORE = re.compile(r"(?:要|需要|需|待|再|去|来|找|跟|和|向|请|等|让|催|争取|尽快|负责|前|约)\S{0,3}$")
_STOP = r"，。！？；,.!?;:：\n、"
LONG_GAP, SHORT_GAP = 5, 4  # characters allowed between words; shorter before a one-character word
LOOKBACK = 3  # characters before a phrase searched for a negation


@dataclass(frozen=True)
class FeedbackHit:
    start: int
    end: int
    keyword: str  # the canonical category (价格高), not the phrase that matched
    polarity: str  # "negative" | "positive"
    words: str = ""  # the text that triggered it (价格有点高)


def first_per_category(hits: list[FeedbackHit]) -> list[FeedbackHit]:
    seen: set[str] = set()
    return [h for h in hits if not (h.keyword in seen or seen.add(h.keyword))]


def _words(phrase: str) -> list[str]:
    words = [w for w in cut(fold(phrase)) if w.strip() and w not in DEGREE]
    return words or [fold(phrase)]


def _pattern(phrase: str) -> str:
    parts = []
    for i, word in enumerate(_words(phrase)):
        if i:
            gap = SHORT_GAP if len(word) == 1 else LONG_GAP
            parts.append(f"(?P<g{i}>[^{_STOP}]{{0,{gap}}}?)")
        options = WORD_VARIANTS.get(word, (word,))
        parts.append("(?:" + "|".join(re.escape(o) for o in sorted(options, key=len, reverse=True)) + ")")
    return "".join(parts)


@dataclass(frozen=True)
class _Pair:
    """A phrase written `A+B` (each side may list forms as A1/A2): both in one clause, in either order
    (售后/服务+慢/跟不上 finds 服务响应太慢 and 担心售后). Weaker than a phrase: it only fills what phrases left."""

    left: re.Pattern[str]
    right: re.Pattern[str]
    keyword: str
    polarity: str


def _side(forms: str) -> re.Pattern[str]:
    options = sorted({fold(f.strip()) for f in forms.split("/") if f.strip()}, key=len, reverse=True)
    return re.compile("|".join(re.escape(o) for o in options))


class FeedbackMatcher:
    """Compiled once per taxonomy: category → the phrases that say it, for each polarity."""

    def __init__(self, negative: Mapping[str, Iterable[str]], positive: Mapping[str, Iterable[str]]) -> None:
        self._rules: list[tuple[re.Pattern[str], str, str]] = []
        # Rules by the first character of their first word's forms: a message's few distinct characters select the
        # few rules worth a regex scan out of hundreds of phrases.
        self._by_char: dict[str, list[int]] = {}
        self._pairs: list[_Pair] = []
        for polarity, categories in (("negative", negative), ("positive", positive)):
            for category, phrases in categories.items():
                for phrase in dict.fromkeys([category, *phrases]):
                    if "+" in phrase:
                        left, right = phrase.split("+", 1)
                        self._pairs.append(_Pair(_side(left), _side(right), category, polarity))
                        continue
                    first = _words(phrase)[0]
                    for char in {form[0] for form in WORD_VARIANTS.get(first, (first,))}:
                        self._by_char.setdefault(char, []).append(len(self._rules))
                    self._rules.append((re.compile(_pattern(phrase)), category, polarity))

    def find(self, text: str) -> list[FeedbackHit]:
        """Hits in `text` (already folded), one per category in order of first mention."""
        return first_per_category(self.find_all(text))

    def find_all(self, text: str) -> list[FeedbackHit]:
        """Every hit in `text` (already folded), in order; a negated phrase (价格不高) is no hit, and of
        overlapping hits the longest wins (不满意 over 满意)."""
        hits: list[FeedbackHit] = []
        chosen: set[int] = set()
        for char in set(text) & self._by_char.keys():
            chosen.update(self._by_char[char])
        candidates = sorted(chosen)
        for pattern, keyword, polarity in (self._rules[i] for i in candidates):
            for m in pattern.finditer(text):
                if (self._negated(text, m) or COMPOUND_AFTER.match(text, m.end())
                        or (polarity == "positive" and self._planned(text, m.start()))):
                    continue
                hits.append(FeedbackHit(m.start(), m.end(), keyword, polarity, text[m.start() : m.end()]))
        hits.sort(key=lambda h: (-(h.end - h.start), h.start))
        kept: list[FeedbackHit] = []
        for hit in hits:
            if all(hit.end <= k.start or hit.start >= k.end for k in kept):
                kept.append(hit)
        kept += self._pair_hits(text, kept)
        return sorted(kept, key=lambda h: h.start)

    def _pair_hits(self, text: str, kept: list[FeedbackHit]) -> list[FeedbackHit]:
        """`A+B` rules per clause, for categories no phrase found there, with neither word inside a kept hit."""
        found: list[FeedbackHit] = []
        taken = [(k.start, k.end) for k in kept]
        for clause in re.finditer(f"[^{_STOP}]+", text):
            said = {k.keyword for k in kept if clause.start() <= k.start < clause.end()}
            for pair in self._pairs:
                if pair.keyword in said:
                    continue
                left = self._free(text, pair.left, clause, taken)
                right = self._free(text, pair.right, clause, taken) if left else None
                if not left or not right or (left[0] < right[1] and right[0] < left[1]):
                    continue
                start, end = min(left[0], right[0]), max(left[1], right[1])
                if pair.polarity == "positive" and self._planned(text, start):
                    continue
                found.append(FeedbackHit(start, end, pair.keyword, pair.polarity, text[start:end]))
                taken += [left, right]
                said.add(pair.keyword)
        return found

    @staticmethod
    def _free(text: str, side: re.Pattern[str], clause: re.Match[str], taken: list[tuple[int, int]]
              ) -> tuple[int, int] | None:
        """The first form of `side` in the clause that is not negated and not already part of a hit."""
        for m in side.finditer(text, clause.start(), clause.end()):
            before = text[max(clause.start(), m.start() - LOOKBACK) : m.start()]
            if not NEGATOR.search(before) and all(m.end() <= s or m.start() >= e for s, e in taken):
                return m.span()
        return None

    @staticmethod
    def _negated(text: str, m: re.Match[str]) -> bool:
        gaps = "".join(v for k, v in m.groupdict().items() if k.startswith("g") and v)
        before = re.split(f"[{_STOP}]", text[max(0, m.start() - LOOKBACK) : m.start()])[-1]
        return bool(NEGATOR.search(gaps) or NEGATOR.search(before))

    @staticmethod
    def _planned(text: str, start: int) -> bool:
        before = re.split(f"[{_STOP}]", text[max(0, start - 4) : start])[-1]
        return bool(ACTION_BEFORE.search(before))
