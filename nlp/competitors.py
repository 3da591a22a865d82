"""Competitor mentions: the vocabulary's names, and names introduced as such (竞品有北森和Moka)."""

from __future__ import annotations

import re

from nlp.names import is_generic
from nlp.segment import Hit, TermIndex

# Generic words count only when no competitor is named.
GENERIC = {"某竞品", "竞品", "友商", "竞争对手", "对手"}
# 竞品是X, 友商有X和Y, 竞争对手：X、Y — the names after the cue are competitors even when unknown.
_INTRODUCED = re.compile(r"(?:竞品|友商|竞争对手)(?:主要)?(?:是|有|为|包括|[:：])\s*(?P<names>[^，。！？；,.!?;\n(（]{2,40})")
_SEPARATOR = re.compile(r"\s*(?:和|、|/|及|与|以及|还有)\s*")
_NAME = re.compile(r"[a-z][a-z0-9 .&-]{1,24}|[\u4e00-\u9fff]{2,6}")
# After a generic word these make it a document, not a rival: 竞品对比表, 竞品分析.
_NOT_A_MENTION = re.compile(r"对比|分析|资料|调研|情况")


def find_competitors(text: str, folded: str, index: TermIndex[str], taken: list[tuple[int, int]]) -> list[str]:
    """Competitor names in order of first mention; when nothing is named, the one generic word.
    `taken` spans (customer mentions) are not competitors."""
    hits: list[tuple[int, str]] = []
    for hit in index.find(folded):
        if not _overlaps(hit, taken) and not (hit.values[0] in GENERIC and _NOT_A_MENTION.match(folded, hit.end)):
            hits.append((hit.start, hit.values[0]))
    for m in _INTRODUCED.finditer(folded):
        at = m.start("names")
        for part in _SEPARATOR.split(m["names"]):
            name = part.strip()
            start = folded.find(name, at)
            at = start + len(name)
            if start >= 0 and _NAME.fullmatch(name) and not index.get(name) and not is_generic(name):
                hits.append((start, text[start : start + len(name)]))
    named = [name for _, name in sorted(hits) if name not in GENERIC]
    if named:
        return list(dict.fromkeys(named))
    return [max((name for _, name in hits), key=len)] if hits else []  # one "there is a rival", not three


def _overlaps(hit: Hit[str], spans: list[tuple[int, int]]) -> bool:
    return any(s < hit.end and hit.start < e for s, e in spans)
