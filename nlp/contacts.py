"""People at the customer: 王总, 李主任, 王总(CTO), CTO王明, and the tenant's known contacts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from nlp.lexicon import LexiconIndex
from nlp.segment import cut, word_freq

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
    "崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤温康施牛樊"
    "葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿焦俞柳祝舒阮柯毕裴霍涂苗翁冉骆蓝靳柴蒙鲍喻祁蒲滕饶艾穆缪褚娄窦戚"
    "岑邬卞姬仇栾隋刁寇甄仲虞敖巩佘邝"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "慕容", "令狐", "夏侯", "尉迟", "公孙", "长孙", "宇文", "司徒")
# Title after a surname → the title reported (None: an honorific that says no role).
TITLES = {
    "副总经理": "副总经理", "总经理": "总经理", "副总裁": "副总裁", "总裁": "总裁", "董事长": "董事长", "副院长": "副院长",
    "院长": "院长", "副校长": "副校长", "校长": "校长", "副主任": "副主任", "主任": "主任", "总监": "总监", "副总": "副总",
    "经理": "经理", "副处长": "副处长", "处长": "处长", "副局长": "副局长", "局长": "局长", "科长": "科长", "部长": "部长",
    "书记": "书记", "主管": "主管", "副行长": "副行长", "行长": "行长", "厂长": "厂长", "所长": "所长", "秘书长": "秘书长",
    "教授": "教授", "博士": "博士", "医生": "医生", "工程师": "工程师", "总工": "总工程师", "老师": "", "老板": "",
    "总": "", "工": "工程师", "董": "董事长", "局": "局长", "处": "处长",
}
# After a one-character title, these make a word rather than a person (王总部, 周工作, 李处理).
_SHORT_TITLE_WORDS = {
    "总": "部共体结价额之算计数量包代装会站署院是",
    "工": "作程厂业具资期人艺地位商会序种科号",
    "局": "面势部限",
    "处": "理于在置分罚",
    "董": "事",
}
# A role written before a full name: CTO王明, 技术负责人张伟, 采购经理李娜.
# A compound title is built as [分管/常务…][department][副](title): 技术副总监, 分管副局长, 运营VP, 局长助理.
ROLE = (
    r"(?:ceo|cto|cfo|coo|cio|cmo|cdo|hrbp|it负责人|"
    r"(?:分管|常务|执行|首席)?"
    r"(?:技术|采购|财务|信息|信息中心|信息科|项目|销售|市场|运营|行政|人事|it|数字化|研发|生产|质量|产品|数据|安全|设备科|设备|"
    r"工程|总务|网络|法务|商务|客服|教务|教学|信息化|办公室|hr|人力|人力资源|院办|校办|局长|院长|校长|总经理|董事长|总裁){0,2}"
    r"(?:部|中心)?"
    r"副?(?:负责人|总监|经理|主任|主管|总工程师|总工|工程师|院长|校长|处长|科长|部长|局长|总经理|总裁|董事长|行长|厂长|"
    r"副总|vp|助理|秘书))"
)
# An English role right after an honorific is that person's: 李总CFO, 王总 CTO.
ROLE_AFTER = r"ceo|cto|cfo|coo|cio|cmo|cdo|vp"
COMMON_WORD = 30  # a surname+title that is this common a dictionary word is no person (施工, 古董)
_SURNAME = f"(?:{'|'.join(COMPOUND_SURNAMES)}|[{SURNAMES}])"
_TITLE = "|".join(sorted(TITLES, key=len, reverse=True))
_HONORIFIC = re.compile(
    rf"(?P<name>{_SURNAME}(?P<title>{_TITLE}))"
    rf"(?:\s*[(（]\s*(?P<role>[^()（）\n]{{1,12}}?)\s*[)）]|\s?(?P<after>{ROLE_AFTER})(?![a-z]))?"
)
_BRACKET = re.compile(r"\s*[(（]\s*(?P<role>[^()（）\n]{1,12}?)\s*[)）]")
_ROLE_NAME = re.compile(rf"(?P<role>{ROLE})\s*(?:是|为|[:：])?\s*(?=[老小]?{_SURNAME}|[a-z])")
# 老刘, 小王: how colleagues are named among friends.
_FAMILIAR = re.compile(rf"(?<![老小])[老小](?P<surname>{_SURNAME})")
_ENGLISH_NAME = re.compile(r"[a-z]+(?: [a-z]+)?")
# A full name followed by its role: 赵伟CTO, 李强信息科长, 黄建国主任.
_NAME_ROLE = re.compile(rf"(?P<name>{_SURNAME}[\u4e00-\u9fff]{{1,2}}?)\s?(?P<role>{ROLE})(?![a-z])")
# A verb jieba may glue to a two-character name (赵伟聊了, 王明说): not part of the name.
_VERB_AFTER_NAME = "说聊讲问提觉认表对也都在和跟是要把给让"


@dataclass(frozen=True)
class ContactMention:
    start: int
    end: int
    name: str
    title: str | None
    customer: str | None = None  # from the tenant's contact list; else decided by the caller
    role_text: str | None = None  # the raw text in brackets, which may name a customer instead


def _honorific_ok(text: str, m: re.Match[str], boundaries: set[int]) -> bool:
    title, name = m["title"], m["name"]
    after = text[m.end("name") : m.end("name") + 1]
    if len(title) == 1 and after and after in _SHORT_TITLE_WORDS.get(title, ""):
        return False
    if word_freq(name) > COMMON_WORD:
        return False
    before = text[m.start() - 1 : m.start()] if m.start() not in boundaries else ""
    return not (before and "\u4e00" <= before <= "\u9fff" and word_freq(before + name[0]) > COMMON_WORD)


def _familiar_ok(text: str, m: re.Match[str]) -> bool:
    """小程序 and 老高兴 are words, not people."""
    after = text[m.end() : m.end() + 1]
    return word_freq(m.group(0)) <= COMMON_WORD and word_freq(m["surname"] + after) <= COMMON_WORD


def _full_name(text: str, start: int) -> str | None:
    """The person's name starting at `start`: a Chinese name by jieba's cut (王明说 → 王明), 老刘,
    or an English name written with a capital (Kevin Zhang)."""
    if (familiar := _FAMILIAR.match(text, start)) and _familiar_ok(text, familiar):
        return familiar.group(0)
    if text[start : start + 1].isascii():
        m = _ENGLISH_NAME.match(text, start)
        return m.group(0) if m else None
    words = cut(text[start : start + 6])
    if not words:
        return None
    first = words[0]
    if 2 <= len(first) <= 3:
        return first[:2] if len(first) == 3 and first[2] in _VERB_AFTER_NAME else first
    if len(first) == 1 and len(words) > 1 and 1 <= len(words[1]) <= 2 and "\u4e00" <= words[1][0] <= "\u9fff":
        return first + words[1]
    return None


def find_contacts(
    text: str, folded: str, index: LexiconIndex, taken: Sequence[tuple[int, int]] = ()
) -> list[ContactMention]:
    """Contacts in order of first mention, one per name; a later mention may add the title.
    Matching runs on `folded`; names and titles are cut from the original `text`. `taken` spans
    (customer mentions) hold no contact, and a contact may start right where one ends
    (恒瑞医药王总监 although 药王 is a word)."""
    boundaries = {0} | {end for _, end in taken}
    known = {}
    for hit in index.contacts.find(folded):
        entry = hit.values[0]
        known[hit.start] = ContactMention(hit.start, hit.end, entry.name, entry.title, entry.customer)

    def free(start: int, end: int) -> bool:
        spans = [*taken, *((c.start, c.end) for c in known.values())]
        return not any(s < end and start < e for s, e in spans)

    honorifics = {
        m.start(): m
        for m in _HONORIFIC.finditer(folded)
        if _honorific_ok(folded, m, boundaries) and free(m.start(), m.end("name"))
    }
    found: list[ContactMention] = []
    owned = [m.span("after") for m in honorifics.values() if m["after"]]  # 李总CFO: CFO is 李总's, not the next one's
    for m in _ROLE_NAME.finditer(folded):  # CTO王明, 技术总监王总, 处长老刘
        if any(s <= m.start() < e for s, e in owned):
            continue
        at, role = m.end(), text[m.start("role") : m.end("role")]
        if at in known:
            c = known[at]
            known[at] = ContactMention(c.start, c.end, c.name, c.title or role, c.customer)
        elif at in honorifics:
            h = honorifics.pop(at)
            found.append(ContactMention(at, h.end(), text[at : h.end("name")], role, None, _role_text(text, h)))
        elif (name := _full_name(folded, at)) and free(at, at + len(name)) and (not name.isascii() or text[at].isupper()):
            found.append(ContactMention(at, at + len(name), text[at : at + len(name)], role))
    for m in _NAME_ROLE.finditer(folded):  # 赵伟CTO: a full name, then the role
        at, end = m.span("name")
        if (at not in known and at not in honorifics and free(at, end) and _full_name(folded, at) == m["name"]
                and word_freq(m["name"]) <= COMMON_WORD and all(c.start != at for c in found)):
            found.append(ContactMention(at, end, text[at:end], text[m.start("role") : m.end("role")]))
    named = {c.start for c in found} | set(honorifics)
    for m in _FAMILIAR.finditer(folded):  # 老刘 on its own
        if m.start() not in named and _familiar_ok(folded, m) and free(m.start(), m.end()):
            bracket = _BRACKET.match(text, m.end())  # 老孙（厂长）
            role = bracket["role"].strip() if bracket else None
            found.append(ContactMention(m.start(), m.end(), text[m.start() : m.end()], role, None, role))
    for start, m in honorifics.items():  # 王总, 李主任(信息科)
        role = _role_text(text, m)
        title = role or TITLES[m["title"]] or None
        found.append(ContactMention(start, m.end(), text[start : m.end("name")], title, None, role))
    return _merge(sorted([*found, *known.values()], key=lambda c: c.start))


def _role_text(text: str, m: re.Match[str]) -> str | None:
    """The role written in brackets or, in English, right after the honorific."""
    group = "role" if m["role"] else "after" if m["after"] else None
    return text[m.start(group) : m.end(group)].strip() if group else None


def _merge(found: list[ContactMention]) -> list[ContactMention]:
    """One entry per name at its first mention, with the first title any mention gave."""
    by_name: dict[str, ContactMention] = {}
    for c in found:
        first = by_name.get(c.name)
        if first is None:
            by_name[c.name] = c
        elif first.title is None and c.title:
            customer = first.customer or c.customer
            by_name[c.name] = ContactMention(first.start, first.end, first.name, c.title, customer, c.role_text)
    return list(by_name.values())
