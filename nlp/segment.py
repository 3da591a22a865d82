"""jieba behind one door: start-up, text folding, forced lexicon terms and keyword ranking."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import jieba

T = TypeVar("T")

_lock = threading.Lock()
_ready = False

# TF-IDF as jieba.analyse.extract_tags computes it, over jieba's own IDF table read here line by line: importing
# jieba.analyse reads that table through a copy of the whole file and a list of every line, which took the
# process's peak memory past 250 MiB for a table that needs about a third of that.
IDF_PATH = Path(jieba.__file__).parent / "analyse" / "idf.txt"
TFIDF_STOP_WORDS = frozenset((
    "the", "of", "is", "and", "to", "in", "that", "we", "for", "an", "are", "by", "be", "as", "on", "with", "can",
    "if", "from", "which", "you", "it", "this", "then", "at", "have", "all", "not", "one", "has", "or",
))
_idf: dict[str, float] = {}
_median_idf = 0.0

# Parts of speech kept as report keywords: nouns, proper nouns, verbal nouns, abbreviations.
KEYWORD_POS = ("n", "nz", "nt", "vn", "j")


def init() -> None:
    """Loads jieba's dictionary, IDF table and POS tables once (≈1 s); later calls return at once.

    Without it the first message of the day pays the load inside a handler.
    """
    global _ready
    if _ready:
        return
    with _lock:
        if _ready:
            return
        # Imported here, not at the top: its tables (and the IDF table) cost ≈1.5 s, which `liuhen serve` pays in
        # its worker thread rather than before it answers; every function below calls init() before using them.
        import jieba.posseg

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        _load_idf()
        list(jieba.posseg.cut("预热"))
        _ready = True


def _load_idf() -> None:
    """jieba's IDF table and its median, as jieba.analyse loads them; one float object per distinct value."""
    global _median_idf
    shared: dict[float, float] = {}
    with IDF_PATH.open(encoding="utf-8") as lines:
        for line in lines:
            word, freq = line.strip().split(" ")
            value = float(freq)
            _idf[word] = shared.setdefault(value, value)
    _median_idf = sorted(_idf.values())[len(_idf) // 2]


# fold's table: full-width ASCII (U+FF01–U+FF5E) to half-width, the ideographic space to a space, and ASCII
# letters (half-width ones from the first rule too) to lower case; every other character stays.
_FOLD = {**{code: chr(code - 0xFEE0).lower() for code in range(0xFF01, 0xFF5F)}, 0x3000: " ",
         **{code: chr(code).lower() for code in range(ord("A"), ord("Z") + 1)}}


def fold(text: str) -> str:
    """Full-width ASCII to half-width and ASCII to lower case, keeping every offset.

    Matching runs on the folded text while mentions are cut from the original, so the
    two must stay the same length (NFKC would not).
    """
    return text.translate(_FOLD)


def word_freq(word: str) -> int:
    """How common `word` is in jieba's general dictionary (0 when it is not a word)."""
    init()
    return jieba.dt.FREQ.get(word) or 0


def word_tag(word: str) -> str | None:
    """jieba's part-of-speech tag for a dictionary word (ns place, nz proper noun, n noun …)."""
    init()
    return jieba.posseg.dt.word_tag_tab.get(word)


def cut(text: str) -> list[str]:
    init()
    return jieba.lcut(text)


def pos_cut(text: str) -> list[tuple[str, str]]:
    init()
    return [(w.word, w.flag) for w in jieba.posseg.cut(text)]


def keywords(text: str, top_k: int) -> list[str]:
    """TF-IDF keywords (as jieba.analyse.extract_tags ranks them) that are nouns in jieba's dictionary, or
    English words. The dictionary's tags are used rather than `allowPOS`, whose HMM tagging of
    unknown words costs ten times the segmentation."""
    init()
    tags = jieba.posseg.dt.word_tag_tab
    ranked = _tfidf(text, top_k * 4)
    return [w for w in ranked if tags.get(w, "x").startswith(KEYWORD_POS) or (w.isascii() and w.isalpha())][:top_k]


def _tfidf(text: str, top_k: int) -> list[str]:
    """jieba.analyse.extract_tags(text, topK=top_k), step for step, so the ranking and its ties are the same."""
    freq: dict[str, float] = {}
    for word in jieba.dt.cut(text):
        if len(word.strip()) < 2 or word.lower() in TFIDF_STOP_WORDS:
            continue
        freq[word] = freq.get(word, 0.0) + 1.0
    total = sum(freq.values())
    for word in freq:
        freq[word] *= _idf.get(word, _median_idf) / total
    return sorted(freq, key=freq.__getitem__, reverse=True)[:top_k]


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


@dataclass(frozen=True)
class Hit(Generic[T]):
    start: int
    end: int
    term: str
    values: tuple[T, ...]


class TermIndex(Generic[T]):
    """Leftmost-longest matching of a fixed set of terms (a per-tenant user dictionary).

    Terms are forced whole rather than added to jieba's process-wide dictionary: one
    tenant's customer names never change another tenant's segmentation, and a term wins
    even where jieba's frequencies would split it (王总和 → 王/总和).
    """

    def __init__(self, entries: Iterable[tuple[str, T]]) -> None:
        self._values: dict[str, list[T]] = {}
        for term, value in entries:
            key = fold(term.strip())
            if key:
                bucket = self._values.setdefault(key, [])
                if value not in bucket:
                    bucket.append(value)
        lengths: dict[str, set[int]] = {}
        for key in self._values:
            lengths.setdefault(key[0], set()).add(len(key))
        self._lengths = {ch: sorted(ls, reverse=True) for ch, ls in lengths.items()}
        # Where a term can start: find jumps from one such character to the next instead of visiting every one.
        self._starts = re.compile("[" + "".join(re.escape(ch) for ch in sorted(lengths)) + "]") if lengths else None

    def __len__(self) -> int:
        return len(self._values)

    def get(self, term: str) -> tuple[T, ...]:
        return tuple(self._values.get(fold(term), ()))

    def find(self, folded: str) -> list[Hit[T]]:
        """Non-overlapping hits in `folded` text; ASCII terms must not sit inside a longer word."""
        hits: list[Hit[T]] = []
        if self._starts is None:
            return hits
        i, n = 0, len(folded)
        while i < n:
            start = self._starts.search(folded, i)
            if start is None:
                break
            i = start.start()
            hit = None
            for length in self._lengths.get(folded[i], ()):
                end = i + length
                if end > n:
                    continue
                piece = folded[i:end]
                values = self._values.get(piece)
                if values is None:
                    continue
                if _is_word_char(piece[0]) and i > 0 and _is_word_char(folded[i - 1]):
                    continue
                if _is_word_char(piece[-1]) and end < n and _is_word_char(folded[end]):
                    continue
                hit = Hit(i, end, piece, tuple(values))
                break
            if hit:
                hits.append(hit)
                i = hit.end
            else:
                i += 1
        return hits
