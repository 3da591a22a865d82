"""Customer feedback as canonical categories with polarity: gap-tolerant phrase matching plus a negation check."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import add

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
COMPOUND_AFTER = re.compile(r"度|版|流(?!程)|单|表(?!示|达|态)|(?<=贵)(?:公司|司|方|单位|院|校|行)")
# 能不能, 是不是, 有没有: a question, no negation.
QUESTION = re.compile(r"(.)[不没]\1")
# 上会 in 线上会, 专业 in 专业版: a hit that starts or ends inside a longer word.
COMPOUND_BEFORE = {"上": "线"}
# A hit saying this is about the rival's price, not ours (竞品…价格比我们高: theirs is the higher one).
THEIRS = re.compile(r"(?:价格|报价|价钱|费用|价)比(?:我们|咱们|我司)[^高贵]{0,3}[高贵]")
# A positive word right after these is our own plan, not the customer's feedback (周五前确认报价).
ACTION_BEFORE = re.compile(r"(?:要|需要|需|待|再|去|来|找|跟|和|向|请|等|让|催|争取|尽快|负责|前|约|电话)\S{0,3}$|可以直接$")
_STOP = r"，。！？；,.!?;:：\n、"
# A positive word followed by a detail we settled is our own errand (确认了一下参会人员, 确认了开标时间).
DETAIL_AFTER = re.compile(rf"了?[^{_STOP}\s]{{0,6}}?(?:时间|地址|人员|流程|单号)")
# A new person named as the one the decision waits for is a delay, not a change of contact (新院长到任再定).
ARRIVAL_THEN = re.compile(rf"[^{_STOP}]{{0,3}}?(?:到任|到岗|来了|上任|就位)(?:以后|之后|后)?再")
# A comparison with a rival said to be cheaper is that cheaper rival, not a customer still comparing (在和X比，X便宜).
COMPARISON = re.compile(r"在?[和跟与].*比$")
# A question answered no (换了新的负责人吗？没有): what it asks about did not happen.
DENIED_QUESTION = re.compile(r"[^。！!，,]{0,10}?[吗么][?？]?\s*(?:没有|没|不是)")
# When the message says no approval is needed, 直接签 says who may sign, not that the customer agreed.
NO_APPROVAL = re.compile(r"(?:不用|不需要|无需|无须|不必)走?(?:审批|流程|招标|上会)")
LONG_GAP, SHORT_GAP = 5, 4  # characters allowed between words; shorter before a one-character word
LOOKBACK = 3  # characters before a phrase searched for a negation


def _lookback(text: str, start: int) -> str:
    """The few characters before a hit searched for a negation: within its clause (a space ends one too:
    暂时不换 明年看情况) and without a question (能不能明年再付, 有没有服务团队)."""
    before = re.split(f"[{_STOP}\\s]", text[max(0, start - LOOKBACK) : start])[-1]
    return QUESTION.sub("", before)


def _compound_before(text: str, start: int) -> bool:
    return start > 0 and text[start - 1] in COMPOUND_BEFORE.get(text[start], "")


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

    left: re.Pattern[str] | None  # None: the side is RIVAL, any competitor the text names
    right: re.Pattern[str] | None
    keyword: str
    polarity: str
    firsts: frozenset[str]  # the first characters of both sides' forms: a text lacking them all rules the pair out


# 好 that starts another word is no praise (挺好看, 很好玩, 好几次).
NOT_GOOD = "(?![看玩吃听像几多久])"
# A pair side written {竞品} stands for any competitor named in the text ({竞品}+便宜/免费: 隔壁X打包价只要12万).
RIVAL = "{竞品}"


def _side(forms: str) -> re.Pattern[str] | None:
    if forms.strip() == RIVAL:
        return None
    options = sorted({fold(f.strip()) for f in forms.split("/") if f.strip()}, key=len, reverse=True)
    return re.compile("|".join(re.escape(o) + (NOT_GOOD if o.endswith("好") else "") for o in options))


class FeedbackMatcher:
    """Compiled once per taxonomy: category → the phrases that say it, for each polarity."""

    def __init__(self, negative: Mapping[str, Iterable[str]], positive: Mapping[str, Iterable[str]]) -> None:
        self._rules: list[tuple[re.Pattern[str], str, str]] = []
        # Rules by the first two characters of their first word's forms (the character of a one-character form): a
        # message's few distinct characters and character pairs select the few rules worth a regex scan out of
        # hundreds of phrases.
        self._by_prefix: dict[str, list[int]] = {}
        self._pairs: list[_Pair] = []
        for polarity, categories in (("negative", negative), ("positive", positive)):
            for category, phrases in categories.items():
                for phrase in dict.fromkeys([category, *phrases]):
                    if "+" in phrase:
                        left, right = phrase.split("+", 1)
                        self._pairs.append(_Pair(_side(left), _side(right), category, polarity,
                                                 _firsts(left) | _firsts(right)))
                        continue
                    first = _words(phrase)[0]
                    for prefix in {form[:2] for form in WORD_VARIANTS.get(first, (first,))}:
                        self._by_prefix.setdefault(prefix, []).append(len(self._rules))
                    self._rules.append((re.compile(_pattern(phrase)), category, polarity))

    def find(self, text: str, rivals: Sequence[tuple[int, int]] = ()) -> list[FeedbackHit]:
        """Hits in `text` (already folded), one per category in order of first mention."""
        return first_per_category(self.find_all(text, rivals))

    def find_all(self, text: str, rivals: Sequence[tuple[int, int]] = ()) -> list[FeedbackHit]:
        """Every hit in `text` (already folded), in order; a negated phrase (价格不高) is no hit, and of
        overlapping hits the longest wins (不满意 over 满意). `rivals` are the spans of competitor names."""
        hits: list[FeedbackHit] = []
        chosen: set[int] = set()
        chars = set(text)
        prefixes = set(map(add, text, text[1:]))  # every character pair
        for prefix in (chars | prefixes) & self._by_prefix.keys():
            chosen.update(self._by_prefix[prefix])
        candidates = sorted(chosen)
        for pattern, keyword, polarity in (self._rules[i] for i in candidates):
            for m in pattern.finditer(text):
                if (self._negated(text, m) or COMPOUND_AFTER.match(text, m.end()) or _compound_before(text, m.start())
                        or (polarity == "positive" and self._ours(text, m))
                        or (keyword == "换负责人" and ARRIVAL_THEN.match(text, m.end()))
                        or (polarity == "negative" and DENIED_QUESTION.match(text, m.end()))
                        or ("直接" in m.group() and NO_APPROVAL.search(text))):
                    continue
                hits.append(FeedbackHit(m.start(), m.end(), keyword, polarity, text[m.start() : m.end()]))
        hits.sort(key=lambda h: (-(h.end - h.start), h.start))
        kept: list[FeedbackHit] = []
        for hit in hits:
            if all(hit.end <= k.start or hit.start >= k.end for k in kept):
                kept.append(hit)
        kept += self._pair_hits(text, kept, rivals, chars)
        if any(k.keyword == "竞品更便宜" for k in kept):
            kept = [k for k in kept if not (k.keyword == "再考虑" and COMPARISON.match(k.words))]
        return sorted(kept, key=lambda h: h.start)

    def _pair_hits(self, text: str, kept: list[FeedbackHit], rivals: Sequence[tuple[int, int]],
                   chars: set[str]) -> list[FeedbackHit]:
        """`A+B` rules per clause, for categories no phrase found there, with neither word inside a kept hit."""
        found: list[FeedbackHit] = []
        taken = [(k.start, k.end) for k in kept]
        live = [pair for pair in self._pairs if not pair.firsts.isdisjoint(chars)
                and _occurs(pair.left, text, rivals) and _occurs(pair.right, text, rivals)]
        for clause in re.finditer(f"[^{_STOP}]+", text) if live else ():
            said = {k.keyword for k in kept if clause.start() <= k.start < clause.end()}
            for pair in live:
                if pair.keyword in said:
                    continue
                left = self._free(text, pair.left, clause, taken, rivals)
                right = self._free(text, pair.right, clause, taken, rivals) if left else None
                if not left or not right or (left[0] < right[1] and right[0] < left[1]):
                    continue
                start, end = min(left[0], right[0]), max(left[1], right[1])
                if THEIRS.search(text, start, end):
                    continue
                if pair.polarity == "positive" and self._planned(text, start):
                    continue
                if pair.polarity == "negative" and DENIED_QUESTION.match(text, end):
                    continue
                found.append(FeedbackHit(start, end, pair.keyword, pair.polarity, text[start:end]))
                taken += [left, right]
                said.add(pair.keyword)
        return found

    @staticmethod
    def _free(text: str, side: re.Pattern[str] | None, clause: re.Match[str], taken: list[tuple[int, int]],
              rivals: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
        """The first form of `side` (or rival name) in the clause that is not negated and not already part of a hit."""
        if side is None:
            spans = [(s, e) for s, e in rivals if clause.start() <= s < clause.end()]
        else:
            spans = [m.span() for m in side.finditer(text, clause.start(), clause.end())]
        for start, end in spans:
            if not NEGATOR.search(_lookback(text, start)) and all(end <= s or start >= e for s, e in taken):
                return start, end
        return None

    @staticmethod
    def _negated(text: str, m: re.Match[str]) -> bool:
        gaps = "".join(v for k, v in m.groupdict().items() if k.startswith("g") and v)
        before = _lookback(text, m.start())
        return bool(NEGATOR.search(gaps) or NEGATOR.search(before) or THEIRS.search(m.group()))

    @classmethod
    def _ours(cls, text: str, m: re.Match[str]) -> bool:
        """A positive word that is our own plan or errand, not the customer's signal."""
        return cls._planned(text, m.start()) or bool(DETAIL_AFTER.match(text, m.end()))

    @staticmethod
    def _planned(text: str, start: int) -> bool:
        before = re.split(f"[{_STOP}]", text[max(0, start - 4) : start])[-1]
        return bool(ACTION_BEFORE.search(before))


def _firsts(forms: str) -> frozenset[str]:
    """The first characters a side's forms can start with (none for the rival side, which any name fills)."""
    return frozenset() if forms.strip() == RIVAL else frozenset(fold(f.strip())[0] for f in forms.split("/") if f.strip())


def _occurs(side: re.Pattern[str] | None, text: str, rivals: Sequence[tuple[int, int]]) -> bool:
    """Whether a pair's side can match anywhere in the text: most texts rule most pairs out in one search each."""
    return bool(rivals) if side is None else side.search(text) is not None
