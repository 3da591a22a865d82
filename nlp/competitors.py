"""Competitor mentions: the vocabulary's names, names introduced as such (竞品有北森和Moka), and names in the
phrases reps use for rivals (友商X, 竞品X, 隔壁X, 在和X比, X那边报价更低) without any lexicon."""

from __future__ import annotations

import re

from nlp.names import is_generic
from nlp.segment import Hit, TermIndex, cut, word_freq, word_tag

# Generic words count only when no competitor is named.
GENERIC = {"某竞品", "竞品", "友商", "竞争对手", "对手"}
# 竞品是X, 友商有X和Y, 竞争对手：X、Y — the names after the cue are competitors even when unknown.
_INTRODUCED = re.compile(r"(?:竞品|友商|竞争对手)(?:主要)?(?:是|有|为|包括|[:：])\s*(?P<names>[^，。！？；,.!?;\n(（]{2,40})")
_SEPARATOR = re.compile(r"\s*(?:和|、|/|及|与|以及|还有)\s*")
_NAME = re.compile(r"[a-z][a-z0-9 .&-]{1,24}|[\u4e00-\u9fff]{2,6}")
# After a generic word these make it a document, not a rival: 竞品对比表, 竞品分析.
_NOT_A_MENTION = re.compile(r"对比|分析|资料|调研|情况")
# An unknown rival's name: 2–6 Chinese characters (the shortest that is followed by a word that cannot be part
# of it) or an ASCII word; it never starts with a word that continues the sentence (竞品更便宜, 友商的售后).
_NOT_NAME_START = (r"(?!更|也|都|还|的|在|报|比|说|有|是|那|这|们|给|价|便宜|太|很|一|不|没|已|会|要|可|能|就|又|对|和|跟|主|才|家"
                   r"|贵|低|高|少|多|差|好|竞品|友商|竞争|隔壁|人家|再加上|加上|现在|之前|原来|但|而且|可是|不过|其他|其它|客户|他们|我们|两|几|再|听说|据说|资料|分析|对比|情况|调研)")
_NAME_END = (r"(?=贵|打了|打到|打折|两家|几家|好|强|上周|上个月|昨天|今天|前天|最近|刚|那边|那家|那里|那套|开价|打包|直接|几乎|的|在|已经|也|报|给|说|去|都|正|还|又|和|跟|对|比|是|承诺|做|进|那|家|更|才|便宜|价格"
             r"|[，。,.!！?？;；:：、\s]|$)")
# Chinese may end in an ASCII word (云帆CRM), an ASCII name may have a second word (ABC Tech).
_UNKNOWN = (rf"{_NOT_NAME_START}(?P<name>(?:(?![和跟与及的、])[\u4e00-\u9fff]){{2,6}}?(?:[a-z]{{2,10}})?"
            rf"|[a-z][a-z0-9]{{1,20}}(?: [a-z][a-z0-9]{{1,20}})?){_NAME_END}")
# After 友商/竞品 a single letter is a name too (友商X, 竞品B).
_UNKNOWN_AFTER_CUE = _UNKNOWN.replace("[a-z0-9]{1,20}", "[a-z0-9]{0,20}")
# After 人家 (also said of the customer) only a name followed by what a rival does: 人家X报得低, 人家X那边.
_RIVAL_DOES = r"(?=那边|那套|那家|的|报|给|都|直接|开价|打包|几乎|也|已经)"
# 友商X, 竞品X, 隔壁(家)X; 在和X比, 跟X比, 拿X跟我们比; X(那边)报价更低, X的报价比我们低.
_PHRASED = (
    re.compile(rf"(?:竞品|友商|对手|隔壁家?)(?:的)?{_UNKNOWN_AFTER_CUE}"),
    re.compile(rf"人家{_NOT_NAME_START}(?P<name>[\u4e00-\u9fff]{{2,6}}?|[a-z][a-z0-9]{{1,20}}){_RIVAL_DOES}"),
    re.compile(rf"(?:我们|咱们)(?:的)?(?:报价|价格)?比{_UNKNOWN}(?:贵|高)"),
    re.compile(rf"(?:在和|在跟|跟|和)\s*{_UNKNOWN}(?:那边|家)?\s*比(?!较|例)"),
    re.compile(rf"(?:^|(?<=[，。,.!！?？;；:：\s说拿是])|(?<=然后|听说|据说)){_UNKNOWN}(?:那边|那家)?的?"
               r"(?:报价|价格|报的价|报得|报了|开价|打包价|给的价)[^，。,.!?！？]{0,8}?(?:更低|低|便宜)"),
    # X那套/X那边 + a price word or a cheaper word (钉钉那套几乎免费, 腾讯企点那边便宜20%, EC那边便宜一半)
    re.compile(rf"(?:^|(?<=[，。,.!！?？;；:：\s说拿是看用])){_UNKNOWN}(?:那套|那边|那家)[^，。,.!?！？]{{0,8}}?"
               r"(?:便宜|免费|只要|更低|低|打折|[五六七八九]折|折扣|优惠|送)"),
    re.compile(rf"拿{_UNKNOWN}(?:跟|和)(?:我们|咱们)比"),
    # 竞品X和Y: the second name of a pair after the cue
    re.compile(rf"(?:竞品|友商|竞争对手|隔壁家?)(?:[\u4e00-\u9fff]{{2,6}}?|[a-z][a-z0-9]{{0,20}})(?:和|跟|与|、){_UNKNOWN}"),
    # 在和X、Y(两家)比: every name of the list
    re.compile(rf"(?:在和|在跟){_UNKNOWN}(?=、)"),
    re.compile(rf"、{_UNKNOWN}(?:两家|几家|那几家)?比"),
    # A clause opening with a name that does what rivals do: X也在投, X也来了, X在跟, X报了, X才八万, X便宜一半
    re.compile(rf"(?:^|(?<=[，。,.!！?？;；:：\s说])|(?<=听说|据说)){_UNKNOWN}"
               r"(?:那边|那家|那套)?(?:也在投|也投了|也来了|也在跟|也报了|在跟|报了|才[0-9一二三四五六七八九十两几]|便宜|更便宜)"),
    # The incumbent: 用的是X的, 一直用X, 现在用X
    re.compile(rf"(?:用的是|一直用|一直在用|现在用|在用的是|用过){_UNKNOWN}"),
    re.compile(rf"(?:跟|和){_UNKNOWN}(?:有啥|有什么|的)区别"),
)
# A name ending in one of these is an organisation even when its other words are common (宏图软件).
ORG_SUFFIX = {"软件", "科技", "网络", "信息", "数据", "智能", "云", "集团", "公司", "系统"}
RARE = 10  # a dictionary word seen fewer times than this may still be a brand (创智)
COMMON = 1000  # a word this frequent in jieba's dictionary is no brand (和客户比, 隔壁部门)
# Tags of dictionary words that are no brand (售后, 几家); adjectives and place or person names may be (明远, 蓝海).
NOT_BRAND_TAGS = {"n", "v", "vn", "m", "t", "s", "f", "d", "ad", "r", "p", "c", "u"}
# Words those phrases meet that are nobody's name (和我们比, 跟去年比, 隔壁客户).
NOT_A_RIVAL = {"其他几", "我们", "他们", "你们", "咱们", "客户", "对方", "人家", "别家", "别人", "去年", "今年", "之前", "以前", "原来",
               "同行", "市场", "行业", "预期", "上次", "同类", "产品", "方案", "公司", "部门", "领导", "老板"}


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
    for pattern in _PHRASED:
        for m in pattern.finditer(folded):
            start, end = m.span("name")
            name = m["name"]
            if not index.get(name) and name not in NOT_A_RIVAL and not _common(name) and not _overlaps_span(
                    start, end, taken):
                hits.append((start, text[start:end]))
    spans = [(start, start + len(name)) for start, name in hits]
    inside = {(s, n) for s, n in hits if any(a <= s and s + len(n) <= b and b - a > len(n) for a, b in spans)}
    named = [name for start, name in sorted(hits) if name not in GENERIC and (start, name) not in inside]  # not Tech of ABC Tech
    if named:
        return list(dict.fromkeys(named))
    return [max((name for _, name in hits), key=len)] if hits else []  # one "there is a rival", not three


def _common(name: str) -> bool:
    """A frequent word, a dictionary word of a tag no brand has (a rare one may be a brand: 创智), or a phrase made
    only of such two-character words and suffixes (纸质单据, 同事们; not 钉钉, cut as 钉/钉)."""
    if word_freq(name) > COMMON or (word_tag(name) in NOT_BRAND_TAGS and word_freq(name) >= RARE):
        return True
    pieces = cut(name)
    return len(pieces) > 1 and pieces[-1] not in ORG_SUFFIX and all((len(p) > 1 and word_tag(p) in NOT_BRAND_TAGS) or word_tag(p) == "k" for p in pieces)


def _overlaps(hit: Hit[str], spans: list[tuple[int, int]]) -> bool:
    return _overlaps_span(hit.start, hit.end, spans)


def _overlaps_span(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)
