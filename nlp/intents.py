"""Free-form chat → the command a rep means: its canonical word, the arguments its handler parses, and the slots."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from nlp.amounts import find_amounts, parse_amount
from nlp.customers import find_customers
from nlp.intent_net import SafetyNet, masked
from nlp.lexicon import Lexicon
from nlp.names import REGIONS, brand, core_name, region_length
from nlp.segment import fold, word_freq

NOTE = "备注"  # the intent of a message that asks for nothing: it is kept as a note
# Punctuation, spaces and emoji that may follow a command word or pad a message.
_PAD = re.compile(r"[\s,.!?;:~、，。！？；：…·\-—\"'“”‘’()（）【】\[\]<>《》#＃/]+|[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]+")
_SEPARATORS = re.compile(r"[\s,，;；。!！?？:：、]+")
_NEAR = 6  # characters: how far before a cue a negation or plan word still governs it
_CLAUSES = re.compile(r"[,，;；。!！?？\n]+")  # a plan word governs the rest of its clause (spaces do not end one)
_GAP = "[^,，。;；!！?？\n]{0,12}?"  # what 「…」 in a phrase stands for: a few characters of the same clause
_LATIN_NAME = re.compile(r"[a-z][a-z0-9&.\-]*(?: [a-z0-9][a-z0-9&.\-]*)*(?=$|[^a-z0-9&.\-])")
# jieba frequency: a bare name more common than this is a word (天府, 卓越), not a customer; a name's first word this
# common, with a brand after it, is its city or a common prefix (兰州金城物流 → 金城, 石家庄冀丰农业装备 → 冀丰)
_BARE_MAX_FREQ = 200
_BRAND_MIN = 4  # characters a name must keep after its leading word for that word to count as a prefix
_WHOLE_MAX = 40  # characters: a longer message is never one command said as a whole
# characters: a longer message (a pasted mail, minutes, a contract clause) is kept as a note, not read for a command —
# a stated payment or advance is a sentence or two, even as a voice run-on, and reading costs grow with the length
READ_MAX = 600
# Requests for the rep's own material that may open a message with chatter after them (写个日报吧 累死了); not
# 帮助/排行榜 (排行榜上那个第一是谁啊 没见过: a question) nor 取消 (never on a guess).
_OPENERS = ("日报速记", "预测", "预测看板", "看板")
# @助手 看板, 日报 @助手: who a group message is addressed to, not what it says; [捂脸], [强]: the chat apps' emoji
# typed as codes. Both are taken out before reading.
_ASIDES = re.compile(r"^(?:[@＠]\S+\s+)+(?=\S)|(?:\s+[@＠]\S+)+$|\[[^\[\]\s]{1,4}\]")


@dataclass(frozen=True)
class Phrases:
    """The admin-extendable phrase lists (rules/defaults/intents.yaml), as plain data."""

    whole: Mapping[str, Sequence[str]] = field(default_factory=dict)
    fillers: Sequence[str] = ()
    whole_not_end: Sequence[str] = ()
    help_topics: Sequence[str] = ()
    typos: Mapping[str, Sequence[str]] = field(default_factory=dict)
    plans: Sequence[str] = ()
    lead: Sequence[str] = ()
    lead_not_after: Sequence[str] = ()
    lead_not_before: Sequence[str] = ()
    lead_name_end: Sequence[str] = ()
    lead_met: Sequence[str] = ()
    lead_before: Sequence[str] = ()
    payment: Sequence[str] = ()
    payment_not: Sequence[str] = ()
    payment_not_after: Sequence[str] = ()
    payment_received: Sequence[str] = ()
    payment_amount_not: Sequence[str] = ()
    advance: Sequence[str] = ()
    advance_not: Sequence[str] = ()
    advance_anywhere: Sequence[str] = ()
    advance_after: Sequence[str] = ()
    advance_not_after: Sequence[str] = ()
    behavior_verbs: Sequence[str] = ()
    stages: Mapping[str, Sequence[str]] = field(default_factory=dict)
    stage_events: Mapping[str, Sequence[str]] = field(default_factory=dict)
    behaviors: Mapping[str, Sequence[str]] = field(default_factory=dict)
    behavior_not: Sequence[str] = ()
    visit: Sequence[str] = ()
    visit_before_customer: Sequence[str] = ()
    visit_not_after: Sequence[str] = ()
    visit_done_after: Sequence[str] = ()
    visit_done_before: Sequence[str] = ()
    visit_planned: Sequence[str] = ()
    visit_not: Sequence[str] = ()
    visit_not_near: Sequence[str] = ()
    visit_meet: Sequence[str] = ()
    visit_not_before: Sequence[str] = ()
    visit_off: Sequence[str] = ()
    progress: Sequence[str] = ()
    progress_weak: Sequence[str] = ()
    progress_not: Sequence[str] = ()
    rewards: Mapping[str, Sequence[str]] = field(default_factory=dict)
    redeem: Sequence[str] = ()
    hedges: Sequence[str] = ()
    questions: Sequence[str] = ()


@dataclass(frozen=True)
class Vocabulary:
    """What one rep's message is read against. Only the commands of enabled modules are in `commands`."""

    commands: frozenset[str]
    customers: Lexicon
    stages: Sequence[str]
    behaviors: Sequence[str]
    rewards: Sequence[str]
    phrases: Phrases
    net: SafetyNet | None = None  # asked where the phrases find nothing; None: a note stays a note


@dataclass(frozen=True)
class Intent:
    """`command` is a command word or NOTE; `args` what that command's handler parses; `sure` False → ask first."""

    command: str
    args: str = ""
    sure: bool = True
    customer: str | None = None  # canonical name of a known customer
    mention: str | None = None  # the customer as written (also an unknown name)
    amount: int | None = None  # yuan
    stage: str | None = None
    behavior: str | None = None
    reward: str | None = None
    done: bool | None = None  # a visit that already happened


def _pattern(word: str) -> str:
    """A phrase as a pattern: 「跟进…回款」 allows a few characters of the same clause between its parts."""
    return re.escape(fold(word)).replace("…", _GAP)


def _alternation(words: Iterable[str]) -> str:
    return "|".join(_pattern(w) for w in sorted(set(words), key=len, reverse=True) if w)


def _bare_alternation(words: Iterable[str]) -> str:
    """Whole-message phrases as they are matched: without spaces or punctuation (daily report → dailyreport)."""
    return _alternation(_PAD.sub("", fold(w)) for w in words)


def _find(words: Iterable[str], text: str) -> list[re.Match[str]]:
    pattern = _alternation(words)
    return list(re.finditer(pattern, text)) if pattern else []


def _before(text: str, start: int, words: Iterable[str]) -> bool:
    """One of `words` ends in the few characters before `start`, in the same clause."""
    window = _SEPARATORS.split(text[max(0, start - _NEAR) : start])[-1]
    return any(fold(w) in window for w in words if w)


def _after(text: str, end: int, words: Iterable[str]) -> bool:
    return any(text.startswith(fold(w), end) for w in words if w)


def _has(text: str, words: Iterable[str]) -> bool:
    return any(fold(w) in text for w in words if w)


def _planned(text: str, start: int, plans: Iterable[str]) -> bool:
    """A plan word (争取, 下个月 …) earlier in the clause that ends at `start`: a wish, not a fact."""
    return _has(_CLAUSES.split(text[:start])[-1], plans)


def _clause(text: str, start: int, end: int) -> str:
    """The clause (up to spaces and punctuation) that holds text[start:end]."""
    return _SEPARATORS.split(text[:start])[-1] + text[start:end] + _SEPARATORS.split(text[end:])[0]


def _without_asides(text: str) -> str:
    return _ASIDES.sub(" ", text.strip()).strip()


def _without(text: str, spans: Sequence[tuple[int, int]]) -> str:
    return "".join(ch for i, ch in enumerate(text) if not any(a <= i < b for a, b in spans))


def _skipped(text: str, words: Iterable[str]) -> str:
    """`text` past any of `words` at its start (昨天做完了 → 做完了)."""
    pattern = _alternation(words)
    skip = re.match(f"(?:{pattern})*", text) if pattern else None
    return text[skip.end() :] if skip else text


def _ends_with(text: str, words: Iterable[str]) -> bool:
    return any(text.endswith(fold(w)) for w in words if w)


class Recognizer:
    """Built once per vocabulary; `read(text)` is pure and cheap (the customer index is the costly part)."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self.index = vocabulary.customers.index()
        self.bare_names = _bare_names(name for name, _ in vocabulary.customers.customers)
        p = vocabulary.phrases
        self.phrases = p
        self.words = sorted(vocabulary.commands, key=len, reverse=True)
        self.typos = [(fold(typo), fold(word)) for word, typos in p.typos.items() for typo in typos
                      if len(typo) == len(word)]
        fillers = _bare_alternation(p.fillers)
        self.courtesy = re.compile(f"(?:{fillers})*" if fillers else "")
        openers = "|".join(x for x in (fillers, _bare_alternation(p.lead_before)) if x)
        self.lead_openers = re.compile(f"(?:{openers})*" if openers else "")
        self.whole: list[tuple[str, re.Pattern[str]]] = []
        for command, words in p.whole.items():
            if command in vocabulary.commands:
                # Several of the command's words and courtesy words in any order (速记一下今天的日报); a question
                # about using the bot may also name other commands (回款怎么录, 教教我怎么报回款).
                said = _bare_alternation([command, *words])
                extra = "|".join(x for x in (fillers, _bare_alternation([*self.words, *p.help_topics]) if command == "帮助" else "") if x)
                padding = f"(?:{extra})*" if extra else ""
                rest = f"(?:{said}|{extra})*" if extra else f"(?:{said})*"
                self.whole.append((command, re.compile(f"{padding}(?:{said}){rest}")))
        self.stage_names = {fold(s): s for s in vocabulary.stages}
        for stage, words in p.stages.items():
            if stage in vocabulary.stages:
                self.stage_names.update({fold(w): stage for w in words})
        self.behavior_names = {fold(b): b for b in vocabulary.behaviors}
        for behavior, words in p.behaviors.items():
            if behavior in vocabulary.behaviors:
                self.behavior_names.update({fold(w): behavior for w in words})
        self.reward_names = {fold(r): r for r in vocabulary.rewards}
        for reward, words in p.rewards.items():
            if reward in vocabulary.rewards:
                self.reward_names.update({fold(w): reward for w in words})

    # -- slots ------------------------------------------------------------------------------------------------
    def customer(self, text: str, near: tuple[int, int] | None = None, *, payer: bool = False
                 ) -> tuple[str | None, str | None, tuple[int, int] | None]:
        """(canonical name, mention as written, span) of the first customer named in `text` — first in the clause
        around `near` when that clause names a known one (拜访了北京同创 顺便收到了合肥卓越的20万 → 合肥卓越); for a
        `payer`, the last one named before the money (a voice run-on: 去了杭州同创…然后合肥卓越那边打了二十万过来)."""
        if near is not None:
            left = max((m.end() for m in _SEPARATORS.finditer(text[: near[0]])), default=0)
            right = next((m.start() + near[1] for m in _SEPARATORS.finditer(text[near[1] :])), len(text))
            known = [m for m in find_customers(text[left:right], self.index) if m.match.best and not m.match.ambiguous]
            earlier = [m for m in known if m.start + left < near[0]] if payer else []
            if known:
                m = earlier[-1] if earlier else known[0]
                return m.match.best, m.mention, (m.start + left, m.end + left)
            name, mention, span = self.customer(text[left:right])
            if name is not None and span is not None:
                return name, mention, (span[0] + left, span[1] + left)
        for m in find_customers(text, self.index):
            if m.match.best and not m.match.ambiguous:
                return m.match.best, m.mention, (m.start, m.end)
        for m in find_customers(text, self.index):
            return None, m.mention, (m.start, m.end)
        return self._bare_customer(text)

    def _bare_customer(self, text: str) -> tuple[str | None, str | None, tuple[int, int] | None]:
        """Last resort: a public body by its bare name (瑞康 for 苏州瑞康医院, 天府 for 成都天府银行) — the shared
        index leaves these out on purpose; here only when nothing else is named and only one customer has it."""
        for m in _find(self.bare_names, text):
            owners = self.bare_names[m.group()]
            if len(owners) == 1:
                return owners[0], m.group(), m.span()
        return None, None, None

    def amount(self, text: str) -> int | None:
        found = find_amounts(text)
        return found[0].value if found else None

    def _named(self, names: Mapping[str, str], text: str) -> list[tuple[re.Match[str], str]]:
        return [(m, names.get(m.group()) or _gapped(names, m.group())) for m in _find(names, text)]

    # -- reading ----------------------------------------------------------------------------------------------
    def read(self, text: str) -> Intent:
        text = _without_asides(text)
        original = text
        if len(original) > READ_MAX:
            return Intent(NOTE)
        folded = self._corrected(fold(original))
        bare = _PAD.sub("", folded)
        if not bare:
            return Intent(NOTE)
        whole = self.whole_command(text)
        if whole is not None:
            return Intent(whole)
        head = self._command_head(folded)
        typed = self._typed(*head) if head is not None else None
        if typed is not None:
            return _as_typed(typed, folded, original)
        opening = self._whole_opening(text)
        if opening is not None:
            return Intent(opening, sure=False)
        # A hedge (好像, 估计, 听说 …) makes a stated fact uncertain, not a note: read without it, then ask first
        # (合肥卓越可能赢单了, 北京同创款估计到了).
        hedges = [m.span() for m in _find(self.phrases.hedges, folded)]
        if not hedges:
            return _as_typed(self._sentence(folded), folded, original)
        found = self._sentence(_without(folded, hedges))
        found = found if found.command == NOTE else replace(found, sure=False)
        return _as_typed(found, _without(folded, hedges), _without(original, hedges))

    def _corrected(self, folded: str) -> str:
        """Slips of a cue word (推近 → 推进, 到帐 → 到账) put right; same length, so offsets still match the original."""
        for typo, word in self.typos:
            folded = folded.replace(typo, word)
        return folded

    def whole_command(self, text: str) -> str | None:
        """The command a message means as a whole (算了不弄了 → 取消, 积分榜 → 排行榜), courtesy words aside."""
        bare = _PAD.sub("", self._corrected(fold(_without_asides(text))))
        if len(bare) > _WHOLE_MAX or _ends_with(bare, self.phrases.whole_not_end):
            return None  # 排行榜更新了吗: a question about it, not a request for it
        return next((command for command, pattern in self.whole if pattern.fullmatch(bare)), None)

    def _whole_opening(self, text: str) -> str | None:
        """A whole request in the first clause, chatter after it (写个日报吧 累死了): asked, as the rest may matter."""
        parts = _SEPARATORS.split(_without_asides(text).strip(), maxsplit=1)
        if len(parts) < 2 or not parts[1].strip():
            return None
        command = self.whole_command(parts[0])
        if command not in _OPENERS or self._sentence(fold(parts[1]), guess=False).command != NOTE:
            return None
        return command

    def _command_head(self, folded: str) -> tuple[str, str] | None:
        for word in self.words:
            if folded.startswith(fold(word)):
                return word, folded[len(word) :]
        for word in self.words:  # 线索 X: a long command word that lost its first character, then a new name
            clipped = fold(word)[1:]
            if (len(clipped) >= 2 and folded.startswith(clipped) and _PAD.match(folded, len(clipped))
                    and self.customer(folded[len(clipped) :])[0] is None):
                return word, folded[len(clipped) :]
        return None

    def _typed(self, word: str, rest: str) -> Intent | None:
        """A message that starts with a command word: its rest is that command's arguments, when they parse.
        Without a space or punctuation after the word the rest must name a known customer (回款计划还没定 is a note)."""
        separated = not rest or bool(_PAD.match(rest))
        if not separated and rest.startswith("的"):
            return None  # 兑换的海外展会去哪个国家: talk about the command's subject, read as a sentence
        if not separated and _has(_clause(rest, 0, 0), self.phrases.questions):
            return None  # 拜访北京同创的时候要注意什么: a question, read as a sentence
        if not separated and word == "拜访" and _has(rest, self.phrases.visit_off):
            return None  # 拜访北京同创未遂: it did not happen, read as a sentence
        readers = {"推进": lambda: self._advance(rest, forced=True), "回款": lambda: self._payment(rest, forced=True),
                   "拜访": lambda: self._visit(word + rest, forced=True), "行为": lambda: self._behavior(rest, forced=True),
                   "兑换": lambda: self._redeem(rest, forced=True), "进展": lambda: self._progress(rest, forced=True)}
        if word == "新线索":
            # 新线索这个月太少了 talks about leads; 新线索：X and 新线索X enter one.
            return None if not separated and _after(rest, 0, self.phrases.lead_not_after) else self._lead(word, rest)
        found = readers[word]() if word in readers else None
        # Glued to the word, an unknown name counts when the rest states the fact (推进火星科技到方案演示, 拜访了X).
        stated = found is not None and bool(found.mention and not _SEPARATORS.search(found.mention)
                                            and (found.stage or found.amount or found.done))
        if found is not None and (separated or found.customer or found.reward or stated or self._bare_name(word, rest)):
            return replace(found, sure=True)  # typed as a command: its handler asks whatever it must
        return Intent(word, _PAD.sub(" ", rest).strip()) if separated else None

    def _bare_name(self, word: str, rest: str) -> bool:
        """拜访火星科技: a command word glued to a name the rep has not entered yet (not to 记录, 计划 …)."""
        p = self.phrases
        refused = {"拜访": p.visit_not_after, "回款": p.payment_not_after}.get(word)
        return refused is not None and not _after(rest, 0, refused) and not _SEPARATORS.search(rest.strip())

    def _sentence(self, folded: str, *, guess: bool = True) -> Intent:
        for step in (self._lead_in_sentence, self._payment, self._advance, self._behavior, self._visit,
                     self._redeem, self._progress):
            found = step(folded)
            if found is not None and found.command in self.vocabulary.commands:
                return found
        return self._guessed(folded) if guess else Intent(NOTE)

    def _guessed(self, text: str) -> Intent:
        """What the safety net reads in a message no phrase matched: asked about with the slots found, never run."""
        net = self.vocabulary.net
        if net is None:
            return Intent(NOTE)
        name, mention, span = self.customer(text)
        command = net.ask(masked(text, span))
        if command is None or command not in self.vocabulary.commands or self._vetoed(command, text, span):
            return Intent(NOTE)
        who = name or mention
        amount = self.amount(text) if command == "回款" else None
        stages = self._named(self.stage_names, text) if command == "推进" else []
        stage = stages[-1][1] if stages else None
        args = {"回款": f"{who} {amount}" if who and amount else "", "推进": f"{who} 到 {stage}" if who and stage else "",
                "拜访": who or ""}.get(command, "")
        done = (("了" in text or "过" in text) and "约" not in text and not _has(text, self.phrases.plans)
                if command == "拜访" else None)
        if command == "拜访" and mention is None and not done:
            return Intent(NOTE)  # as the rules say: a plan with nobody named (约了牙医明天下午) is a note
        return Intent(command, args, False, name, mention, amount=amount, stage=stage, done=done)

    def _vetoed(self, command: str, text: str, span: tuple[int, int] | None) -> bool:
        """A guess the phrase lists rule out: a fact with a negation, plan or question word anywhere in the message
        (北京同创的进度款到了吗, 希望月底前能推到合同签署), a visit that did not happen (a negation in the customer's
        clause, or the first: 北京同创今天不方便见面, not 北晨重工今天去了 门卫不让停车) or was only passed by, a request that asks
        about a state (排行榜更新了吗). The net knows words, not what negates them."""
        p = self.phrases
        if command == "拜访" and _has(_clause(text, *span) if span else _SEPARATORS.split(text.strip())[0], p.visit_not):
            return True
        words = {"回款": [*p.payment_not, *p.payment_amount_not, *p.plans, *p.questions],
                 "推进": [*p.advance_not, *p.plans, *p.questions],
                 "拜访": [*p.visit_off, *p.visit_not_near, *p.questions]}.get(command)
        if words is None:  # a request names its subject (日报, 预测 …): 这个机器人挺好用的 asks for no help
            return _ends_with(_PAD.sub("", text), p.whole_not_end) or not _has(text, [command, *p.whole.get(command, ())])
        return _has(text, words)

    def _hedged(self, text: str) -> bool:
        return _has(text, self.phrases.hedges)

    # -- one reader per command ---------------------------------------------------------------------------------
    def _payment(self, text: str, forced: bool = False) -> Intent | None:
        p = self.phrases
        # With an amount, a bare receipt verb is enough, in any order (北京同创的20万到了, 收到X进度款230万),
        # unless the amount is a budget or a quote (报价80万 到了他们采购那边; 合同额200万 今天收到首付60万).
        found = find_amounts(text)
        money = [a for a in found if not _has(_CLAUSES.split(text[max(0, a.start - _NEAR) : a.end])[-1],
                                                  p.payment_amount_not)]
        amount = (money or found)[0].value if found else None
        said = [*_find(p.payment, text), *(_find(p.payment_received, text) if money else [])]
        cues = [m for m in said if forced or (
            not _before(text, m.start(), p.payment_not) and not _after(text, m.end(), p.payment_not_after)
            and not _planned(text, m.start(), p.plans) and not _after(text, m.end(), self.stage_names))]
        if not cues and not forced:
            return None
        # Behaviours that contain a payment word (回款跟进, 催款) are behaviours, not receipts.
        if not forced and any(_find(p.payment, m.group()) for m in _find(self.behavior_names, text)):
            return None
        near = (money[0].start, money[0].end) if money else cues[0].span() if cues else None
        name, mention, span = self.customer(text, near, payer=True)
        if amount is None and forced:
            amount = parse_amount(_SEPARATORS.split(text.strip())[-1])
        if not forced and amount is None and not any(_after(text, m.end(), ["了"]) or "已" in text[: m.start()]
                                                     or m.group().endswith("了") for m in cues):
            return None  # 「到账」 with neither an amount nor a 了/已 states no receipt
        if mention is None and forced:
            mention = _leftover(text, [_amount_span(text)]) or None
        who = name or mention
        args = f"{who} {amount}" if who and amount else ""
        sure = bool(name and amount) and not self._hedged(text)
        return Intent("回款", args, sure, name, mention, amount=amount)

    def _advance(self, text: str, forced: bool = False) -> Intent | None:
        p = self.phrases
        stage = None
        pushed: list[tuple[bool, str]] = []  # (right after an advance cue, stage) of each stage the text moves to
        for m, named in self._named(self.stage_names, text):
            if not forced and (_ends_with(text[: m.start()], p.behavior_verbs) or _after(text, m.end(), p.advance_not_after)):
                continue  # 进行了商务谈判: the behavior of that name, no stage change; 到谈判了吗: a question
            cued = bool(_find(p.advance, text[max(0, m.start() - 4) : m.start()]))
            # 方案演示搞完了, 谈判阶段开始了: the stage reached, told after its name (not 产品演示做完了: a behavior)
            told = text[m.end() :].lstrip()
            reached = any(_after(t, 0, p.advance_after) for t in (told, _skipped(told, p.visit_done_before))) and not any(
                b.start() <= m.start() and m.end() <= b.end() and b.group() != m.group() for b in _find(self.behavior_names, text))
            if (forced or cued or reached or _has(text, p.advance_anywhere)) and (forced or not (
                    _before(text, m.start(), p.advance_not) or _planned(text, m.start(), p.plans))):
                pushed.append((cued, named))
        if pushed:  # 从需求确认推到方案演示: the stage after the cue, else the last one named
            stage = next((named for cued, named in pushed if cued), pushed[-1][1])
        if stage is None:  # events: the furthest stage stated wins (合同签了 赢单！ → 赢单)
            stated = [event_stage for event_stage, words in p.stage_events.items()
                      if event_stage in self.vocabulary.stages and any(
                          not _before(text, m.start(), p.advance_not) and not _planned(text, m.start(), p.plans)
                          and not _after(text, m.end(), p.advance_not_after)
                          and (forced or self._short_event_stated(text, m)) for m in _find(words, text))]
            stage = max(stated, key=list(self.vocabulary.stages).index, default=None)
        if stage is None:
            return None
        name, mention, _ = self.customer(text)
        if mention is None and forced:
            mention = _leftover(text, [m.span() for m, _ in self._named(self.stage_names, text)],
                                strip=("到", "进入")) or None
        who = name or mention
        args = f"{who} 到 {stage}" if who else ""
        return Intent("推进", args, bool(name) and not self._hedged(text), name, mention, stage=stage)

    def _short_event_stated(self, text: str, m: re.Match[str]) -> bool:
        """赢了, 输了, 签了 are so short they state a deal's end only with a customer named and at the end of their
        clause (北京同创那单赢了!, not 打牌输了两百 nor 签了保密协议)."""
        short = len(m.group()) <= 2 and m.group().endswith("了")
        return not short or (not _PAD.sub("", _SEPARATORS.split(text[m.end() :])[0])
                             and self.customer(text)[1] is not None)

    def _behavior(self, text: str, forced: bool = False) -> Intent | None:
        found = self._named(self.behavior_names, text)
        if not found:
            return None
        m, behavior = found[0]
        if not forced:  # planned (试点下个月开始), or asked about (到商务谈判了没); a later clause may state it done
            done = [(m, b) for m, b in found if not self._behavior_refused(text, m, first=m is found[0][0])]
            if not done:
                return None
            m, behavior = done[0]
        name, mention, _ = self.customer(text, m.span())
        if mention is None and not forced:
            return None  # 「demo」 alone, 「客户说POC效果不错」: whose? a note until a customer is named
        if mention is None:
            mention = _leftover(text, [m.span()]) or None
        who = name or mention
        args = f"{who} {behavior}" if who else ""
        return Intent("行为", args, bool(name) and not self._hedged(text), name, mention, behavior=behavior)

    def _behavior_refused(self, text: str, m: re.Match[str], *, first: bool) -> bool:
        """Not done: a plan or question word before the phrase (from the message start for the first phrase, within
        its clause for a later one: 约了技术答疑 把接口问题解答了) or after it in its clause (按他们的要求改的)."""
        p = self.phrases
        before = text[: m.start()] if first else _SEPARATORS.split(text[: m.start()])[-1]
        said = before + text[m.start() : m.end()] + _SEPARATORS.split(text[m.end() :])[0]
        return (_has(said, p.behavior_not) or _after(text, m.end(), p.advance_not_after)
                or _has(_clause(text, m.start(), m.end()), p.plans))

    def _visit(self, text: str, forced: bool = False) -> Intent | None:
        p = self.phrases
        # 签约了 holds 约了: a visit word inside a stage word is no visit
        staged = [m.span() for m in _find([*self.stage_names, *(w for ws in p.stage_events.values() for w in ws)], text)]
        cues = [m for m in _find(p.visit, text) if not _after(text, m.end(), p.visit_not_after)
                and not any(a <= m.start() < b or a < m.end() <= b for a, b in staged)]
        name, mention, span = self.customer(text)
        if span is not None:
            cues += [m for m in _find(p.visit_before_customer, text[: span[0]])
                     if m.end() == span[0] and not _ends_with(text[: m.end()], p.visit_not_before)]
        # 去西部能源附近爬山, 去北京同创的路上堵车了: near the customer, not a visit — unless someone is to be met there
        # (在去北京同创的路上 待会跟他们采购碰个面): a visit under way, not yet made
        on_way = False
        if span is not None and not forced and _after(text, span[1], p.visit_not_near):
            if not _find([*p.visit, *p.visit_meet], text[span[1] :]):
                return None
            on_way = True
        if not forced:  # 今天不方便见面, 拜访的时候要注意什么: no visit, or a question about one
            cues = [m for m in cues if not _before(text, m.start(), p.visit_not)
                    and not _has(_clause(text, m.start(), m.end()), p.questions)]
        if forced:
            if mention is None:
                mention = _first_word(_leftover(text, [m.span() for m in cues]).lstrip("了过完")) or None
        elif not cues or _has(text, p.visit_off):
            return None  # no visit cue, or it did not happen (客户临时取消了)
        past = [m for m in cues if "约" not in m.group() and not _has(_SEPARATORS.split(text[: m.start()])[-1], p.visit_planned)
                and ("了" in m.group() or _after(text, m.end(), p.visit_done_after) or _ends_with(m.group(), p.visit_done_after))]
        # 去合肥卓越开会了: a clause that ends in 了 tells a visit that happened, unless a plan word says otherwise.
        ended = any(_clause(text, m.start(), m.end()).endswith("了") for m in cues)
        done = not on_way and (bool(past) or ((ended or _has(text, p.visit_done_before)) and not _has(text, p.visit_planned)))
        if mention is None and not forced and not done:
            return None  # a plan with nobody named (下周打算去拜访一下客户, 约了牙医) is a note
        # A visit made with nobody we know named (刚见完老周他们) is asked about: never filed as a note.
        who = name or mention
        return Intent("拜访", who or "", bool(name) and not self._hedged(text), name, mention, done=done)

    def _lead(self, word: str, rest: str) -> Intent:
        args = _PAD.sub(" ", rest).strip() if not _PAD.match(rest or " ") else rest.strip(" ,，:：;；")
        args = re.sub(r"^(?:叫|是|名叫|名字叫)", "", args).strip()
        requests = _alternation(self.phrases.lead_name_end)
        if requests:  # 武汉光谷能源集团帮我建一下 → 武汉光谷能源集团: the request is no part of the lead
            args = re.sub(rf"(?:{requests})[^\s,，;；。!！?？]*", "", args).strip(" ,，;；。")
        words = _SEPARATORS.split(args)
        while len(words) > 1 and self.courtesy.fullmatch(words[0]):  # 有个新的线索 你记一下 X: not 「你」
            args = args[len(words.pop(0)) :].lstrip(" ,，:：;；、。")
        latin = _LATIN_NAME.match(args)  # ABC Robotics: a Latin name keeps its spaces
        raw = latin.group() if latin else (_SEPARATORS.split(args, maxsplit=1)[0] if args else "")
        canonical = self.index.resolve(self.index.customers.get(raw))[0] if raw and self.index.customers.get(raw) \
            else None
        return Intent(word, args, True, canonical, raw or None)

    def _lead_in_sentence(self, text: str) -> Intent | None:
        cue = next(iter(_find(self.phrases.lead, text)), None)
        if cue is None or _after(text, cue.end(), self.phrases.lead_not_after) or _before(
                text, cue.start(), self.phrases.lead_not_before):
            return None  # 新客户的资料; 这个不算新线索
        found = self._lead("新线索", text[cue.end() :])
        opens = bool(self.lead_openers.fullmatch(_PAD.sub("", text[: cue.start()])))
        if not opens and (not found.mention or self.courtesy.fullmatch(_PAD.sub("", text[cue.end() :]))):
            # 认识了X的人，帮我录成新线索 (…吧): the request after the name
            return self._lead_named_before(text[: cue.start()])
        if not opens and not found.mention:
            return None  # 有啥新客户: no name, no lead
        # 「(帮我)有个新客户叫X」 opens the message: sure; later in a sentence (「展会上认识一个新客户，X」) ask first.
        return replace(found, sure=opens)

    def _lead_named_before(self, before: str) -> Intent | None:
        """The new name in the last clause before a trailing lead request, after a meeting word and up to 的
        (昨天展会上碰到X的采购 录一个新线索吧 → X); a sentence without one stays a note. Asked first: a guess."""
        p = self.phrases
        clauses = [c for c in _SEPARATORS.split(before) if c and not self.lead_openers.fullmatch(c)]
        if not clauses:
            return None
        piece = clauses[-1]
        met = [m.end() for m in _find(p.lead_met, piece)] if p.lead_met else []
        piece = piece[max(met, default=0) :]
        if p.lead_name_end:
            piece = re.split(_alternation(p.lead_name_end), piece)[0]
        name = piece.split("的")[0].strip()
        if len(name) < 4 or self.customer(name)[0] is not None:
            return None
        return Intent("新线索", name, False, None, name)

    def _redeem(self, text: str, forced: bool = False) -> Intent | None:
        found = self._named(self.reward_names, text)
        if not found:
            return None
        if not forced and not any(not _after(text, m.end(), ["的", "了"]) for m in _find(self.phrases.redeem, text)):
            # 兑换的海外展会去哪个国家: about a reward; 小王兑换了…: told, not asked for
            return None
        reward = found[0][1]
        return Intent("兑换", reward, not self._hedged(text), reward=reward)

    def _progress(self, text: str, forced: bool = False) -> Intent | None:
        """A known customer's deal moving without a stage change; weak wording (反馈不错) asks first."""
        strong = bool(_find(self.phrases.progress, text))
        if not forced and ((not strong and not _has(text, self.phrases.progress_weak))
                           or _has(text, self.phrases.progress_not)):
            return None
        name, mention, span = self.customer(text)
        if name is None and not forced:
            return None
        note = _PAD.sub(" ", (text[: span[0]] + text[span[1] :]) if span else text).strip()
        note = re.sub(r"^(?:的|最新)+", "", note).strip() or note
        who = name or mention
        sure = bool(name) and (forced or strong) and not self._hedged(text)
        return Intent("进展", f"{who} {note}" if who and note else "", sure, name, mention)


def _gapped(names: Mapping[str, str], said: str) -> str:
    """The canonical name of a phrase with 「…」 that matched `said`."""
    return next(name for word, name in names.items() if "…" in word and re.fullmatch(_pattern(word), said))


def _first_word(text: str) -> str:
    return _SEPARATORS.split(text.strip(), maxsplit=1)[0]


def _as_typed(intent: Intent, folded: str, original: str) -> Intent:
    """An unknown name and a lead's text as the rep typed them (DataWave, not the folded datawave)."""
    if intent.customer is not None or not intent.mention:
        return intent
    at = folded.find(intent.args) if intent.command == "新线索" and intent.args else -1
    args = original[at : at + len(intent.args)] if at >= 0 else intent.args
    at = folded.find(intent.mention)
    if at < 0:
        return replace(intent, args=args)
    mention = original[at : at + len(intent.mention)]
    return replace(intent, mention=mention, args=args if args != intent.args else args.replace(intent.mention, mention, 1))


def _bare_names(names: Iterable[str]) -> dict[str, list[str]]:
    """Each customer's name without region, legal suffix and institution word (苏州瑞康医院 → 瑞康, 成都蜀锦数据科技
    → 蜀锦: the brand's first two characters too) → its owners."""
    out: dict[str, list[str]] = {}
    for name in names:
        core = core_name(name)
        rest = core[region_length(core) or _prefix_length(core) :]
        head = rest[:2] if re.fullmatch(r"[\u4e00-\u9fff]{2}", rest[:2]) else ""  # never a Latin fragment (no, ab)
        for form in {rest, brand(rest), head}:
            if len(form) >= 2 and form != name and form not in REGIONS and word_freq(form) < _BARE_MAX_FREQ:
                out.setdefault(fold(form), []).append(name)
    return out


def _prefix_length(core: str) -> int:
    """The length of a common leading word (a city outside REGIONS: 兰州, 石家庄) before a brand, else 0."""
    return next((k for k in (2, 3, 4) if len(core) - k >= _BRAND_MIN and word_freq(core[:k]) >= _BARE_MAX_FREQ), 0)


def _amount_span(text: str) -> tuple[int, int]:
    found = find_amounts(text)
    return (found[0].start, found[0].end) if found else (0, 0)


def _leftover(text: str, spans: list[tuple[int, int]], strip: Sequence[str] = ()) -> str:
    """What is left of typed arguments once the other slots are cut out: the customer as written."""
    keep = "".join(ch for i, ch in enumerate(text) if not any(s <= i < e for s, e in spans))
    keep = _PAD.sub(" ", keep).strip()
    for word in strip:
        keep = keep.removesuffix(word).strip()
    return keep


def recognise(text: str, vocabulary: Vocabulary) -> Intent:
    """One-off reading (builds the recognizer each time: keep a Recognizer for repeated use)."""
    return Recognizer(vocabulary).read(text)
