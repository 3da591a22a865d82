"""Text → structure for 日报速记: customers, contacts, keywords, feedback, todos, amounts, competitors.

Pure: imports nothing else of ours. Call `init()` once at start-up (loads jieba, ≈1 s).
"""

from nlp.customers import MatchResult, match_customer
from nlp.extract import MAX_CHARS, Extraction, Extractor, Feedback, extract
from nlp.lexicon import Lexicon
from nlp.segment import init

__all__ = ["MAX_CHARS", "Extraction", "Extractor", "Feedback", "Lexicon", "MatchResult", "extract", "init", "match_customer"]
