"""The shape of each rule file; a file that does not fit is refused with file:key messages."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(_Strict):
    name: str = Field(min_length=1)
    yellow_days: int | None = Field(default=None, ge=1)
    escalate_days: int | None = Field(default=None, ge=1)
    requires: list[str] = []
    won: bool = False
    lost: bool = False

    @model_validator(mode="after")
    def _escalate_after_yellow(self) -> Stage:
        if self.yellow_days and self.escalate_days and self.escalate_days < self.yellow_days:
            raise ValueError("escalate_days 不能早于 yellow_days")
        return self


class StagesFile(_Strict):
    stages: list[Stage] = Field(min_length=2)
    valid_touch_resets_clock: bool = True

    @field_validator("stages")
    @classmethod
    def _unique_names(cls, stages: list[Stage]) -> list[Stage]:
        names = [s.name for s in stages]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"阶段名称重复：{'、'.join(duplicates)}")
        return stages

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)


class Vocabulary(_Strict):
    products: list[str] = []
    competitors: list[str] = []
    demands: list[str] = []


Categories = dict[str, list[str]]


def _as_categories(value: Categories | list[str]) -> Categories:
    """The older plain list of phrases reads as one category per phrase."""
    return {phrase: [phrase] for phrase in value} if isinstance(value, list) else value


class Feedback(_Strict):
    """Customer feedback categories (category → phrases that say it), negative and positive."""

    negative: Categories | list[str] = {}
    positive: Categories | list[str] = {}

    @field_validator("negative", "positive")
    @classmethod
    def _phrases_given(cls, value: Categories | list[str]) -> Categories | list[str]:
        for category, phrases in _as_categories(value).items():
            if not category.strip():
                raise ValueError("分类名不能为空")
            if not any(p.strip() for p in phrases):
                raise ValueError(f"分类「{category}」没有任何说法")
            for phrase in phrases:
                if "+" in phrase and not all(side.strip("/ ") for side in phrase.split("+", 1)):
                    raise ValueError(f"说法「{phrase}」：「+」两边都要有词（如 售后/服务+慢）")
        return value

    @model_validator(mode="after")
    def _each_phrase_once(self) -> Feedback:
        negative, positive = self.categories("negative"), self.categories("positive")
        both = sorted(set(negative) & set(positive))
        if both:
            raise ValueError(f"分类「{'、'.join(both)}」同时出现在 negative 和 positive")
        owner: dict[str, str] = {}
        for category, phrases in [*negative.items(), *positive.items()]:
            for phrase in {p.strip() for p in [category, *phrases]}:
                if owner.setdefault(phrase, category) != category:
                    raise ValueError(f"说法「{phrase}」同时属于「{owner[phrase]}」和「{category}」")
        return self

    def categories(self, polarity: str) -> Categories:
        return _as_categories(getattr(self, polarity))


VALUE_TRIGGERS = ("contacts", "competitors", "keywords", "todos", "stage_changes", "feedback", "amounts")


class ValueTag(_Strict):
    """A tag a report earns when `when` is present in it; `keywords` narrows the `keywords` trigger. The tag adds its
    full weight to the score from `full` items on, a share of it below."""

    name: str = Field(min_length=1)
    weight: int = Field(ge=1, le=100)
    when: str
    full: int = Field(default=1, ge=1, le=50)
    keywords: list[str] = []

    @field_validator("when")
    @classmethod
    def _known_trigger(cls, when: str) -> str:
        if when not in VALUE_TRIGGERS:
            raise ValueError(f"未知的触发条件「{when}」（可用：{'、'.join(VALUE_TRIGGERS)}）")
        return when


REPORT_SECTIONS = ("customers", "keywords", "feedback", "stage_changes", "competitors", "contacts", "notes", "amounts",
                   "todos", "value")


class DingTalkLog(_Strict):
    """Filing confirmed reports as DingTalk 日志: the template's name and which report sections fill which of its
    fields (template field name → sections, in order)."""

    enabled: bool = False
    template: str = Field(default="日报", min_length=1)
    fields: dict[str, list[str]] = {}

    @field_validator("fields")
    @classmethod
    def _known_sections(cls, fields: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted({s for sections in fields.values() for s in sections} - set(REPORT_SECTIONS))
        if unknown:
            raise ValueError(f"未知的日报内容「{'、'.join(unknown)}」（可用：{'、'.join(REPORT_SECTIONS)}）")
        return fields

    @model_validator(mode="after")
    def _something_to_file(self) -> DingTalkLog:
        if self.enabled and not any(self.fields.values()):
            raise ValueError("已启用，但 fields 没有把任何日报内容放进模板字段")
        return self


class ReportsFile(_Strict):
    vocabulary: Vocabulary = Vocabulary()
    feedback: Feedback = Feedback()
    value_tags: list[ValueTag] = []
    pin_from: int = Field(default=40, ge=0, le=100)  # reports scoring this much are pinned in the manager digest
    progress_days: int = Field(default=7, ge=1, le=90)  # the replacement metric's window
    visit_goals: dict[str, str] = {}  # stage → the goal a pre-visit checklist proposes
    dingtalk_log: DingTalkLog = DingTalkLog()  # off unless the file turns it on

    @field_validator("value_tags")
    @classmethod
    def _unique_tags(cls, tags: list[ValueTag]) -> list[ValueTag]:
        _unique([t.name for t in tags], "价值标签")
        return tags


class QuietHours(_Strict):
    start: time = time(21, 0)
    end: time = time(8, 0)
    resume_at: time = time(8, 30)  # pushes held during quiet hours go out at this local time


class NotifyFile(_Strict):
    """How scheduled pushes reach people: quiet hours, digests, and when each sweep runs."""

    quiet_hours: QuietHours = QuietHours()
    digest_from: int = Field(default=2, ge=2)  # this many due items for one person become one digest card
    schedule: dict[str, str] = {}  # job name → cron "minute hour day month day_of_week" (local time)

    @field_validator("schedule")
    @classmethod
    def _cron_has_five_fields(cls, schedule: dict[str, str]) -> dict[str, str]:
        for job, cron in schedule.items():
            if len(cron.split()) != 5:
                raise ValueError(f"{job}: cron 应为 5 段（分 时 日 月 周），而不是「{cron}」")
        return schedule


# --- leads.yaml and touches.yaml ------------------------------------------------------------

LEAD_FIELD_KEYS = ("industry", "budget", "decision_chain", "need_stage", "amount", "expected_close")
TAG_PLACEHOLDERS = ("industry", "budget_band", "decision_title", "need_stage")
TOUCH_KINDS = ("product_link", "meeting", "pdf", "file", "visit", "call", "message")


def _unique(values: list[str], what: str) -> list[str]:
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"{what}重复：{'、'.join(duplicates)}")
    return values


class Question(_Strict):
    """One thing the bot may ask a rep for, with buttons for the common answers."""

    key: str = Field(min_length=1)
    label: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    choices: list[str] = []


class BudgetBand(_Strict):
    name: str = Field(min_length=1)
    below: int | None = Field(default=None, ge=1)  # yuan, exclusive; the last band has none
    phrases: list[str] = []  # how a rep says the band without an amount (上千万, 几百万)


class Industry(_Strict):
    name: str = Field(min_length=1)
    aliases: list[str] = []
    keywords: list[str] = []  # words that imply the industry anywhere, even inside a customer's name (医院 → 医疗)
    evidence: list[Question] = []  # fields the industry adds, kept in Opportunity.evidence
    roles: list[Question] = []  # decision-chain roles the industry requires (key = role name)


class LeadsFile(_Strict):
    required: list[str] = Field(min_length=1)
    fields: list[Question]
    budget_bands: list[BudgetBand] = Field(min_length=1)
    titles: list[str] = []  # decision-maker titles recognised in "决策人王总CTO"
    tag_template: str = Field(min_length=1)
    industries: list[Industry] = Field(min_length=1)
    need_stage_phrases: dict[str, list[str]] = {}  # need-stage choice → phrases saying it (在看方案 → 方案评估)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, fields: list[Question]) -> list[Question]:
        unknown = [f.key for f in fields if f.key not in LEAD_FIELD_KEYS]
        if unknown:
            raise ValueError(f"未知字段：{'、'.join(unknown)}（可用：{'、'.join(LEAD_FIELD_KEYS)}）")
        _unique([f.key for f in fields], "字段")
        return fields

    @field_validator("budget_bands")
    @classmethod
    def _bands_ascend(cls, bands: list[BudgetBand]) -> list[BudgetBand]:
        limits = [b.below for b in bands[:-1]]
        if None in limits or bands[-1].below is not None:
            raise ValueError("只有最后一个预算区间可以不写 below")
        if limits != sorted(limits):  # type: ignore[type-var]
            raise ValueError("预算区间须按 below 从小到大排列")
        return bands

    @field_validator("tag_template")
    @classmethod
    def _known_placeholders(cls, template: str) -> str:
        try:
            template.format(**{key: "" for key in TAG_PLACEHOLDERS})
        except (KeyError, IndexError, ValueError):
            raise ValueError(f"标签模板只能使用 {{{'}、{'.join(TAG_PLACEHOLDERS)}}}") from None
        return template

    @field_validator("industries")
    @classmethod
    def _unique_industries(cls, industries: list[Industry]) -> list[Industry]:
        _unique([name for i in industries for name in (i.name, *i.aliases, *i.keywords)], "行业名称、别名或关键词")
        return industries

    @model_validator(mode="after")
    def _phrases_name_choices(self) -> LeadsFile:
        need = self.field("need_stage")
        choices = need.choices if need else []
        unknown = [key for key in self.need_stage_phrases if key not in choices]
        if unknown:
            raise ValueError(f"need_stage_phrases 中的需求阶段不在 need_stage 的选项中：{'、'.join(unknown)}")
        _unique([p for phrases in self.need_stage_phrases.values() for p in phrases], "需求阶段说法")
        _unique([p for b in self.budget_bands for p in (b.name, *b.phrases)], "预算区间说法")
        return self

    @model_validator(mode="after")
    def _required_are_fields(self) -> LeadsFile:
        known = {f.key for f in self.fields}
        missing = [key for key in self.required if key not in known]
        if missing:
            raise ValueError(f"required 中的字段未在 fields 中定义：{'、'.join(missing)}")
        return self

    def field(self, key: str) -> Question | None:
        return next((f for f in self.fields if f.key == key), None)

    def industry(self, name: str) -> Industry | None:
        return next((i for i in self.industries if name == i.name or name in i.aliases), None)


class TouchesFile(_Strict):
    product_domains: list[str] = []  # links to these (and their subdomains) are product links
    meeting_domains: list[str] = []  # video-meeting links: 腾讯会议, 钉钉会议, 飞书, Zoom …
    meeting_platforms: list[str] = []  # names that, with a meeting number, make an invitation without a link
    pdf_extensions: list[str] = ["pdf"]
    valid_kinds: list[str] = ["product_link", "meeting", "pdf"]
    labels: dict[str, str] = {}  # kind → what the acknowledgement calls it
    context_hours: float = Field(default=4, gt=0)  # how long "the customer I just worked on" lasts
    ack_delay_seconds: int = Field(default=10, ge=0, le=600)  # a burst inside this window gets one ack

    @field_validator("valid_kinds", "labels")
    @classmethod
    def _known_kinds(cls, kinds: list[str] | dict[str, str]) -> list[str] | dict[str, str]:
        unknown = [k for k in kinds if k not in TOUCH_KINDS]
        if unknown:
            raise ValueError(f"未知的触达类型：{'、'.join(unknown)}（可用：{'、'.join(TOUCH_KINDS)}）")
        return kinds


class Capped(_Strict):
    max: int = Field(ge=0, le=100)
    per_item: int = Field(default=0, ge=0)


class FeedbackWeights(_Strict):
    max: int = Field(ge=0, le=100)
    base: int = Field(ge=0)
    per_negative: int = Field(le=0)
    per_positive: int = Field(ge=0)


class HealthComponents(_Strict):
    touches: Capped
    files: Capped
    feedback: FeedbackWeights
    dwell: Capped

    @model_validator(mode="after")
    def _adds_up_to_100(self) -> HealthComponents:
        total = self.touches.max + self.files.max + self.feedback.max + self.dwell.max
        if total != 100:
            raise ValueError(f"各分项 max 之和应为 100（当前 {total}）")
        return self


class Suggestion(_Strict):
    when: str = Field(pattern=r"^(feedback:.+|no_touch_days:\d+|few_files|dwell)$")
    text: str = Field(min_length=1)


class HealthFile(_Strict):
    threshold: int = Field(ge=1, le=100)
    window_days: int = Field(ge=1, le=90)
    components: HealthComponents
    suggestions: list[Suggestion] = []


class PaymentsFile(_Strict):
    ask_on_stage: str = Field(min_length=1)
    remind_days_before: int = Field(ge=1, le=90)
    commission_rate: float = Field(gt=0, lt=1)


class Behavior(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    category: str = Field(min_length=1)
    points: int = Field(ge=1, le=100)
    evidence: str = ""
    description: str = ""


class BehaviorVersion(_Strict):
    quarter: str = Field(pattern=r"^\d{4}Q[1-4]$")
    effective: date
    behaviors: list[Behavior] = Field(min_length=1)

    @field_validator("behaviors")
    @classmethod
    def _unique_codes(cls, behaviors: list[Behavior]) -> list[Behavior]:
        codes = [b.code for b in behaviors]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"行为代码重复：{'、'.join(duplicates)}")
        return behaviors

    def get(self, code: str) -> Behavior | None:
        return next((b for b in self.behaviors if b.code == code), None)


class Reward(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    cost: int = Field(ge=1)


class OnboardingTask(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    behavior: str
    target: int = Field(ge=1)


class Onboarding(_Strict):
    within_days: int = Field(ge=1, le=365)
    unlocks: str = Field(min_length=1)
    tasks: list[OnboardingTask] = Field(min_length=1)


class BehaviorsFile(_Strict):
    versions: list[BehaviorVersion] = Field(min_length=1)
    stage_behaviors: dict[str, list[str]] = {}
    rewards: list[Reward] = []
    onboarding: Onboarding

    @model_validator(mode="after")
    def _references_exist(self) -> BehaviorsFile:
        quarters = [v.quarter for v in self.versions]
        if quarters != sorted(set(quarters)) or [v.effective for v in self.versions] != sorted(
                v.effective for v in self.versions):
            raise ValueError("versions 应按季度和生效日期升序排列，且季度不重复")
        known = {b.code for v in self.versions for b in v.behaviors}
        wanted = {c for codes in self.stage_behaviors.values() for c in codes} | {
            t.behavior for t in self.onboarding.tasks}
        unknown = sorted(wanted - known)
        if unknown:
            raise ValueError(f"引用了未定义的行为：{'、'.join(unknown)}")
        return self

    def version_at(self, day: date) -> BehaviorVersion:
        """The version in force on `day` (the earliest one before any took effect)."""
        current = self.versions[0]
        for version in self.versions:
            if version.effective <= day:
                current = version
        return current


EVIDENCE_KINDS = ("link", "file", "message", "system")


class SignalRule(_Strict):
    """One forecast signal type and how it is verified (信号校验器)."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    evidence: list[str] = Field(min_length=1)  # evidence kinds that verify it; "system" = a record the bot found
    fresh_hours: int = Field(ge=1)  # older evidence is stale and does not count
    asserted_by: list[str] = Field(min_length=1)  # rep | system
    stages: list[str] = []  # system: a StageChange into one of these
    touches: list[str] = []  # system: a Touch of one of these kinds
    events: list[str] = []  # system: a positive CompanyEvent of one of these kinds
    similarity: bool = False  # system: the similarity engine says the elapsed days fit the history

    @field_validator("evidence")
    @classmethod
    def _known_evidence(cls, kinds: list[str]) -> list[str]:
        unknown = [k for k in kinds if k not in EVIDENCE_KINDS]
        if unknown:
            raise ValueError(f"未知的证据类型：{'、'.join(unknown)}（可用：{'、'.join(EVIDENCE_KINDS)}）")
        return kinds

    @field_validator("asserted_by")
    @classmethod
    def _known_sources(cls, sources: list[str]) -> list[str]:
        unknown = [s for s in sources if s not in ("rep", "system")]
        if unknown:
            raise ValueError(f"asserted_by 只能是 rep 或 system，而不是：{'、'.join(unknown)}")
        return sources

    @model_validator(mode="after")
    def _system_says_where(self) -> SignalRule:
        finds = bool(self.stages or self.touches or self.events or self.similarity)
        if ("system" in self.asserted_by) != finds:
            raise ValueError("asserted_by 含 system 时须写明 stages/touches/events/similarity 之一，反之不可写")
        return self


class Similarity(_Strict):
    horizon_days: int = Field(default=15, ge=1)  # forecasts closing within this many days are compared
    lookback_years: int = Field(default=3, ge=1, le=10)
    min_cases: int = Field(default=5, ge=1)  # fewer exact matches: fall back to the nearest by distance
    industry_weight: float = Field(default=2.0, ge=0)
    band_weight: float = Field(default=1.0, ge=0)
    chain_weight: float = Field(default=1.0, ge=0)


class CompanyEventRules(_Strict):
    risk: dict[str, str] = {}  # event kind → the hint pushed to the rep
    positive: dict[str, str] = {}  # event kind → the signal code it becomes
    lookback_days: int = Field(default=7, ge=1)


class ForecastFile(_Strict):
    stages: list[str] = Field(min_length=1)  # open opportunities in these stages are forecast
    next_period_from_day: int = Field(default=25, ge=1, le=28)  # from this day of the month: next month's forecast
    min_signals: int = Field(default=2, ge=1)
    fresh_hours: int = Field(default=72, ge=1)  # the board's freshness window
    deviation: float = Field(default=0.25, gt=0, lt=1)
    signals: list[SignalRule] = Field(min_length=1)
    similarity: Similarity = Similarity()
    company_events: CompanyEventRules = CompanyEventRules()

    @model_validator(mode="after")
    def _references_exist(self) -> ForecastFile:
        _unique([s.code for s in self.signals], "信号代码")
        unknown = sorted(set(self.company_events.positive.values()) - {s.code for s in self.signals})
        if unknown:
            raise ValueError(f"company_events.positive 引用了未定义的信号：{'、'.join(unknown)}")
        return self

    def signal(self, code: str) -> SignalRule | None:
        return next((s for s in self.signals if s.code == code), None)


class PrivacyFile(_Strict):
    messages_days: int = Field(ge=1, le=3650)  # raw chat text kept this long; evidence derived from it stays


COMMAND_WORDS = ("新线索", "推进", "进展", "行为", "回款", "日报速记", "拜访", "预测", "预测看板", "兑换", "看板", "排行榜",
                 "取消", "帮助")


NOTE_INTENT = "备注"  # a message that asks for nothing


def _only(keys: Iterable[str], known: tuple[str, ...], what: str) -> None:
    """Every key is one of `known`, else the error names the strangers and the choices."""
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ValueError(f"未知的{what}：{'、'.join(unknown)}（可用：{'、'.join(known)}）")


def _no_blank(words: list[str], where: str) -> list[str]:
    if any(not w.strip() for w in words):
        raise ValueError(f"{where}里有空说法")
    return words


class IntentsFile(_Strict):
    """Phrases that tell what a freely typed message means (nlp.intents.Phrases)."""

    whole: dict[str, list[str]] = {}  # command → phrases that, the whole message, mean it
    fillers: list[str] = []
    whole_not_end: list[str] = []  # a whole message ending so asks about a state (排行榜更新了吗), requests nothing
    help_topics: list[str] = []
    typos: dict[str, list[str]] = {}  # word → slips of the same length (推近 → 推进, 到帐 → 到账)
    plans: list[str] = []  # earlier in the clause: a plan, not a fact (争取, 下个月 …)
    lead: list[str] = []
    lead_not_after: list[str] = []
    lead_not_before: list[str] = []  # right before a lead cue: not a new lead (这个不算新线索)
    lead_name_end: list[str] = []
    lead_met: list[str] = []  # before a new name that a trailing lead request is about (认识了X的人，帮我录成新线索)
    lead_before: list[str] = []
    payment: list[str] = []
    payment_not: list[str] = []
    payment_not_after: list[str] = []
    payment_received: list[str] = []
    payment_amount_not: list[str] = []
    advance: list[str] = []
    advance_not: list[str] = []
    advance_anywhere: list[str] = []
    advance_after: list[str] = []  # right after a stage name: that stage is reached (方案演示搞完了, 谈判阶段开始了)
    advance_not_after: list[str] = []
    behavior_verbs: list[str] = []
    stages: dict[str, list[str]] = {}  # stage → short names
    stage_events: dict[str, list[str]] = {}  # stage → phrases that alone state the change
    behaviors: dict[str, list[str]] = {}  # behavior → near names
    behavior_not: list[str] = []
    visit: list[str] = []
    visit_before_customer: list[str] = []
    visit_not_after: list[str] = []
    visit_done_after: list[str] = []
    visit_done_before: list[str] = []
    visit_planned: list[str] = []
    visit_not: list[str] = []
    visit_not_near: list[str] = []
    visit_meet: list[str] = []  # later in a message on the way to a customer: someone is met there (a visit)
    visit_not_before: list[str] = []
    visit_off: list[str] = []
    progress: list[str] = []
    progress_weak: list[str] = []
    progress_not: list[str] = []
    rewards: dict[str, list[str]] = {}  # reward → near names
    redeem: list[str] = []
    hedges: list[str] = []
    questions: list[str] = []

    @field_validator("whole")
    @classmethod
    def _known_commands(cls, whole: dict[str, list[str]]) -> dict[str, list[str]]:
        _only(whole, COMMAND_WORDS, "命令")
        return whole

    @field_validator("typos")
    @classmethod
    def _same_length(cls, typos: dict[str, list[str]]) -> dict[str, list[str]]:
        _no_blank([w for words in typos.values() for w in words], "typos")
        wrong = [w for word, words in typos.items() for w in words if len(w) != len(word)]
        if wrong:
            raise ValueError(f"错字要和原词一样长：{'、'.join(wrong)}")
        return typos

    @field_validator("whole", "stages", "stage_events", "behaviors", "rewards")
    @classmethod
    def _mapped_phrases(cls, table: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, words in table.items():
            _no_blank(words, f"「{key}」")
        return table

    @field_validator("fillers", "help_topics", "plans", "lead", "lead_not_after", "lead_not_before", "lead_name_end", "lead_met", "lead_before", "payment", "payment_not",
                     "payment_not_after", "payment_received", "payment_amount_not", "advance", "advance_not", "advance_anywhere", "advance_not_after", "behavior_verbs",
                     "behavior_not", "visit", "visit_before_customer", "visit_not_after", "visit_done_after", "visit_done_before",
                     "visit_planned", "visit_not", "visit_not_near", "visit_not_before", "visit_off", "progress", "progress_weak", "progress_not", "redeem", "hedges", "questions")
    @classmethod
    def _phrases(cls, words: list[str]) -> list[str]:
        return _no_blank(words, "列表")


class IntentExamplesFile(_Strict):
    """Labelled example sentences for the learned safety net under the intent phrases (nlp.intent_net)."""

    threshold: float = Field(0.9, ge=0.5, le=1.0)  # the net's confidence at or above which it asks
    asks: list[str] = []  # the intents the net may ask about; any other guess leaves the note a note
    examples: dict[str, list[str]] = {}  # intent (a command word or 备注) → sentences that mean it

    @field_validator("asks")
    @classmethod
    def _known_asks(cls, asks: list[str]) -> list[str]:
        _only(asks, COMMAND_WORDS, "命令")
        return asks

    @field_validator("examples")
    @classmethod
    def _known_intents(cls, examples: dict[str, list[str]]) -> dict[str, list[str]]:
        _only(examples, (*COMMAND_WORDS, NOTE_INTENT), "意图")
        for key, words in examples.items():
            _no_blank(words, f"「{key}」")
        return examples


def cross_problems(loaded: dict[str, BaseModel]) -> list[str]:
    """References between files: health.yaml's feedback:<分类> must name a negative category of reports.yaml."""
    reports, health = loaded.get("reports"), loaded.get("health")
    if not isinstance(reports, ReportsFile) or not isinstance(health, HealthFile):
        return []
    known = reports.feedback.categories("negative")
    return [f"health.yaml:suggestions[{i}].when: 未知的反馈分类「{rule.when[9:]}」（reports.yaml 的 feedback.negative 里没有）"
            for i, rule in enumerate(health.suggestions) if rule.when.startswith("feedback:") and rule.when[9:] not in known]


# file name → (RuleSet attribute, schema); a new rule file is one line here and one field on RuleSet.
RULE_FILES: dict[str, tuple[str, type[BaseModel]]] = {
    "stages.yaml": ("stages", StagesFile),
    "reports.yaml": ("reports", ReportsFile),
    "notify.yaml": ("notify", NotifyFile),
    "health.yaml": ("health", HealthFile),
    "payments.yaml": ("payments", PaymentsFile),
    "behaviors.yaml": ("behaviors", BehaviorsFile),
    "privacy.yaml": ("privacy", PrivacyFile),
    "leads.yaml": ("leads", LeadsFile),
    "touches.yaml": ("touches", TouchesFile),
    "forecast.yaml": ("forecast", ForecastFile),
    "intents.yaml": ("intents", IntentsFile),
    "intent_examples.yaml": ("intent_examples", IntentExamplesFile),
}
