"""A deterministic demo company (customers, 3 years of deals, open pipeline, evidence), bulk-inserted once."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, select, update
from sqlmodel import Session, SQLModel

from rules.forecast import Risk
from rules.health import Facts, score
from rules.lights import idle_days
from rules.loader import RuleSet
from store import behaviors as behavior_store
from store.models import (
    AuditLog,
    BehaviorLog,
    ChatBinding,
    Contact,
    Customer,
    DailyReport,
    FeedbackHit,
    Forecast,
    ForecastItem,
    HealthSnapshot,
    Message,
    Opportunity,
    Payment,
    PaymentMilestone,
    StageChange,
    Touch,
    User,
)

SEED = 20261201
MARKER = "demo_seed"
YEARS = 3
OPEN_PER_REP = 10
CLOSED_PER_REP_MONTH = 1.6
WON_SHARE = 0.38
GROUP_CHAT = "grp-{customer}"
GROUP_CHANNELS = ("local", "wecom")

INDUSTRIES: dict[str, tuple[str, ...]] = {
    "医疗器械": ("医疗器械", "生物医疗"),
    "制造业": ("精密制造", "机械装备"),
    "零售": ("商贸", "连锁零售"),
    "金融": ("金融服务", "融资租赁"),
    "教育": ("教育科技", "培训"),
    "物流": ("物流", "供应链"),
    "能源": ("新能源", "能源科技"),
    "互联网": ("网络科技", "信息技术"),
}
CYCLE_DAYS = {"医疗器械": 120, "制造业": 90, "零售": 45, "金融": 150, "教育": 60, "物流": 60, "能源": 180, "互联网": 40}
CITIES = ("上海", "杭州", "苏州", "南京", "宁波", "无锡", "合肥", "北京", "天津", "石家庄", "济南", "青岛",
          "太原", "大连")
CORES = ("华信", "恒达", "鼎盛", "瑞丰", "金桥", "宏图", "远航", "新元", "博雅", "众联", "天成", "凯盛", "安泰",
         "永兴", "嘉禾", "同创", "启明", "汇通", "锦程", "卓越", "海纳", "正泰", "华耀", "中科", "盛世", "联创")
PRODUCTS = ("销售管理平台", "数据中台", "智能客服", "供应链协同", "设备物联网", "财务共享", "会员运营", "质量追溯")
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林"
TITLES = (("CEO", "决策人"), ("CTO", "决策人"), ("采购总监", "影响人"), ("IT经理", "使用人"), ("财务总监", "影响人"))
NEED_STAGES = ("初步了解", "明确需求", "方案评估", "采购立项")
MESSAGES = ("王总说方案下周内部评审，价格有点高", "客户对演示很满意，要求补充接口对接说明",
            "采购在比较竞品报价，需要我们给一版ROI测算", "技术总监问能不能先做POC", "合同已进入法务审核",
            "客户说预算今年已批，希望月底前签", "对方IT担心数据迁移，约了下周技术交流")
FEEDBACK = (("价格高", "negative"), ("需要审批", "negative"), ("认可方案", "positive"), ("感兴趣", "positive"))  # reports.yaml categories
FORECAST_RISKS = (Risk.HIGH, None, None)  # about a third of late-stage commits lack signals


@dataclass
class Counts:
    """Rows written per table (all zero when the database was already seeded)."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, n: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + n


@dataclass
class _Deal:
    customer_id: int
    industry: str
    owner: str
    stages: list[tuple[str, datetime]]  # the path taken: (stage, entered at)
    status: str
    amount: int
    created_at: datetime
    last_update_at: datetime
    closed_at: datetime | None
    product: str


def already_seeded(session: Session) -> bool:
    return session.execute(select(AuditLog.id).where(AuditLog.action == MARKER)).first() is not None


def seed(session: Session, rules: RuleSet, *, at: datetime, tz: ZoneInfo, seed: int = SEED) -> Counts:
    """Fills an org-imported database as of `at`; the same (seed, at) gives the same rows, a second call nothing."""
    counts = Counts()
    if already_seeded(session):
        return counts
    rng = random.Random(seed)
    users = session.execute(select(User).order_by(User.id)).scalars().all()
    reps = [u for u in users if u.role == "rep"]
    builder = _Builder(session, rules, rng, at, tz, counts)
    customers = builder.customers(reps)
    deals = builder.closed_deals(reps, customers) + builder.open_deals(reps, customers)
    opp_ids = builder.opportunities(deals)
    builder.evidence(deals, opp_ids)
    builder.group_chats(deals)
    builder.payments(deals, opp_ids)
    builder.behaviors(reps, deals, opp_ids)
    builder.forecasts(reps, deals, opp_ids)
    builder.reports(reps, customers)
    builder.bulk(AuditLog, [{"at": at, "actor": "system", "action": MARKER, "detail": {"seed": seed}}])
    return counts


class _Builder:
    """One seeding run: the random stream, the anchor instant and the running counts."""

    def __init__(self, session: Session, rules: RuleSet, rng: random.Random, at: datetime, tz: ZoneInfo,
                 counts: Counts) -> None:
        self.session, self.rules, self.rng, self.at, self.tz, self.counts = session, rules, rng, at, tz, counts
        self.stages = [s for s in rules.stages.stages if not (s.won or s.lost)]
        self.won_stage = next(s.name for s in rules.stages.stages if s.won)
        self.lost_stage = next(s.name for s in rules.stages.stages if s.lost)

    def bulk(self, model: type[SQLModel], rows: list[dict[str, Any]]) -> list[int]:
        """One multi-row Core insert; returns the new ids in row order."""
        if not rows:
            return []
        table: Table = model.__table__  # type: ignore[attr-defined]
        self.counts.add(table.name, len(rows))
        if "id" not in table.c or not table.c.id.autoincrement:
            self.session.execute(insert(table), rows)
            return []
        result = self.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
        return [row[0] for row in result]

    def ago(self, days: float) -> datetime:
        return self.at - timedelta(days=days)

    def customers(self, reps: list[User]) -> list[dict[str, Any]]:
        pairs = [(city, core) for city in CITIES for core in CORES]
        self.rng.shuffle(pairs)
        industries = list(INDUSTRIES)
        rows, seen_alias = [], set()
        for n, (city, core) in enumerate(pairs[:300]):
            industry = industries[n % len(industries)]
            suffix = self.rng.choice(INDUSTRIES[industry])
            short = f"{core}{suffix}"
            aliases = [f"{city}{core}"] + ([short] if short not in seen_alias else [])
            seen_alias.update(aliases)
            created = self.ago(self.rng.uniform(30, YEARS * 365 + 60))
            rows.append({"name": f"{city}{core}{suffix}有限公司", "aliases": aliases, "industry": industry,
                         "owner_id": reps[n % len(reps)].id, "created_at": created, "updated_at": created})
        for row, cid in zip(rows, self.bulk(Customer, rows), strict=True):
            row["id"] = cid
        contacts = [{"customer_id": c["id"], "name": self.rng.choice(SURNAMES) + "总", "title": title, "role": role,
                     "updated_at": c["created_at"]}
                    for c in rows for title, role in self.rng.sample(TITLES, self.rng.randint(1, 3))]
        self.bulk(Contact, contacts)
        return rows

    def _path(self, start: datetime, end: datetime, upto: int) -> list[tuple[str, datetime]]:
        """Stages 0..upto entered evenly between start and end."""
        span = (end - start) / (upto + 1)
        return [(self.stages[i].name, start + span * i) for i in range(upto + 1)]

    def closed_deals(self, reps: list[User], customers: list[dict[str, Any]]) -> list[_Deal]:
        deals = []
        for rep in reps:
            own = [c for c in customers if c["owner_id"] == rep.id]
            hired = datetime.combine(rep.hired_on or self.at.date(), time(9), self.tz)
            start = max(hired, self.ago(YEARS * 365))
            months = max(0.0, (self.ago(30) - start).days / 30)
            for _ in range(round(months * CLOSED_PER_REP_MONTH)):
                customer = self.rng.choice(own)
                cycle = CYCLE_DAYS[customer["industry"]] * self.rng.uniform(0.6, 1.6)
                created = start + timedelta(days=self.rng.uniform(0, max(1.0, (self.ago(30) - start).days - cycle)))
                closed = min(created + timedelta(days=cycle), self.ago(1))
                won = self.rng.random() < WON_SHARE
                path = self._path(created, closed, len(self.stages) - 1 if won else self.rng.randrange(len(self.stages)))
                path.append((self.won_stage if won else self.lost_stage, closed))
                deals.append(_Deal(customer["id"], customer["industry"], rep.id, path, "won" if won else "lost",
                                   self.rng.randrange(10, 400) * 10_000, created, closed, closed,
                                   self.rng.choice(PRODUCTS)))
        return deals

    def open_deals(self, reps: list[User], customers: list[dict[str, Any]]) -> list[_Deal]:
        """Two per stage per rep; every 7th is yellow and every 7th+2 escalated, so each team has both lights."""
        deals = []
        for rep in reps:
            own = [c for c in customers if c["owner_id"] == rep.id]
            for n in range(OPEN_PER_REP):
                stage = self.stages[n % len(self.stages)]
                light = {3: "yellow", 5: "escalated"}.get(n % 7, "green")
                if light == "yellow":
                    idle = self.rng.uniform(stage.yellow_days, (stage.escalate_days or stage.yellow_days + 3) - 0.5)
                elif light == "escalated":
                    idle = self.rng.uniform((stage.escalate_days or stage.yellow_days) + 1, 30)
                else:
                    idle = self.rng.uniform(0.1, max(0.5, stage.yellow_days - 2.5))
                last = self.ago(idle)
                entered = last - timedelta(days=self.rng.uniform(0, 10))
                created = entered - timedelta(days=self.rng.uniform(5, 20) * (n % len(self.stages)) + 1)
                customer = own[n % len(own)]
                path = self._path(created, entered, n % len(self.stages))
                deals.append(_Deal(customer["id"], customer["industry"], rep.id, path, "open",
                                   self.rng.randrange(10, 400) * 10_000, created, last, None,
                                   self.rng.choice(PRODUCTS)))
        return deals

    def opportunities(self, deals: list[_Deal]) -> list[int]:
        rows = []
        for deal in deals:
            budget = deal.amount + self.rng.randrange(0, 50) * 10_000
            chain = [{"name": self.rng.choice(SURNAMES) + "总", "title": t, "role": r}
                     for t, r in self.rng.sample(TITLES, 2)]
            expected = (deal.closed_at or self.at + timedelta(days=self.rng.uniform(10, 90))).astimezone(self.tz).date()
            rows.append({
                "customer_id": deal.customer_id, "owner_id": deal.owner, "name": f"{deal.product}项目",
                "stage": deal.stages[-1][0], "stage_entered_at": deal.stages[-1][1],
                "last_update_at": deal.last_update_at, "status": deal.status, "industry": deal.industry,
                "budget": budget, "budget_band": "100万以上" if budget >= 1_000_000 else "100万以下",
                "decision_chain": chain, "need_stage": self.rng.choice(NEED_STAGES), "evidence": {},
                "tags": [deal.industry, deal.product], "amount": deal.amount, "expected_close": expected,
                "health": None, "created_at": deal.created_at, "closed_at": deal.closed_at,
            })
        ids = self.bulk(Opportunity, rows)
        changes = [{"opportunity_id": oid, "from_stage": prev[0] if prev else None, "to_stage": stage, "at": when,
                    "by_user_id": deal.owner, "behavior_log_id": None}
                   for oid, deal in zip(ids, deals, strict=True)
                   for prev, (stage, when) in zip([None, *deal.stages[:-1]], deal.stages, strict=True)]
        self.bulk(StageChange, changes)
        return ids

    def group_chats(self, deals: list[_Deal]) -> None:
        """Each rep's first open deal's customer gets a customer group chat (the simulator lists it)."""
        first = {d.owner: d.customer_id for d in reversed(deals) if d.status == "open"}
        self.bulk(ChatBinding, [{"channel": channel, "chat_id": GROUP_CHAT.format(customer=cid), "customer_id": cid}
                                for cid in sorted(set(first.values())) for channel in GROUP_CHANNELS])

    def evidence(self, deals: list[_Deal], ids: list[int]) -> None:
        """Touches, chat messages and feedback for the open pipeline, then each one's health from them."""
        touches, messages, feedback, facts = [], [], [], {}
        window = timedelta(days=self.rules.health.window_days)
        for oid, deal in zip(ids, deals, strict=True):
            if deal.status != "open":
                continue
            valid = files = 0
            last_valid: datetime | None = None
            for _ in range(self.rng.randint(1, 6)):
                when = deal.last_update_at - timedelta(days=self.rng.uniform(0, 20))
                kind = self.rng.choice(("pdf", "product_link", "meeting", "message", "message"))
                text = self.rng.choice(MESSAGES)
                msg_id = f"seed-{len(messages) + 1}"
                messages.append({"channel": "wecom", "msg_id": msg_id, "sender": deal.owner, "user_id": deal.owner,
                                 "chat_id": GROUP_CHAT.format(customer=deal.customer_id), "kind": "text",
                                 "text": text, "event": {}, "received_at": when, "processed_at": when,
                                 "attempts": 1, "last_error": None})
                is_valid = kind != "message"
                touches.append({
                    "customer_id": deal.customer_id, "opportunity_id": oid, "rep_id": deal.owner, "kind": kind,
                    "valid": is_valid, "at": when, "source": "wecom", "source_msg_id": msg_id, "fingerprint": None,
                    "url": "https://liuhen.example.com/case" if kind == "product_link" else None,
                    "filename": f"{deal.product}方案.pdf" if kind == "pdf" else None,
                    "evidence": {"text": text, "linked_by": "chat"}})
                if is_valid and when > self.at - window:
                    valid += 1
                    files += kind == "pdf"
                    last_valid = max(last_valid or when, when)
            hits = [self.rng.choice(FEEDBACK) for _ in range(self.rng.choice((0, 0, 1, 2)))]
            feedback += [{"customer_id": deal.customer_id, "opportunity_id": oid, "message_id": None,
                          "keyword": k, "polarity": p, "at": deal.last_update_at} for k, p in hits]
            facts[oid] = (deal, Facts(
                valid_touches=valid, files=files, negative=[k for k, p in hits if p == "negative"],
                positive=[k for k, p in hits if p == "positive"],
                days_since_valid_touch=idle_days(last_valid, self.at) if last_valid else None,
                idle_days=idle_days(deal.last_update_at, self.at)))
        self.bulk(Message, messages)
        self.bulk(Touch, touches)
        self.bulk(FeedbackHit, feedback)
        self._health(facts)

    def _health(self, facts: dict[int, tuple[_Deal, Facts]]) -> None:
        by_name = {s.name: s for s in self.stages}
        scored = {oid: score(f, by_name.get(deal.stages[-1][0]), self.rules.health) for oid, (deal, f) in facts.items()}
        self.bulk(HealthSnapshot, [{"opportunity_id": oid, "at": self.at, "score": h.score,
                                    "components": {**h.components, "suggestions": h.suggestions}}
                                   for oid, h in scored.items()])
        self.session.execute(update(Opportunity).execution_options(synchronize_session=False),
                             [{"id": oid, "health": h.score} for oid, h in scored.items()])

    def payments(self, deals: list[_Deal], ids: list[int]) -> None:
        """Three milestones per deal won in the last half year; the newest won deal has one due soon, the next one overdue."""
        today = self.at.astimezone(self.tz).date()
        recent = sorted(((d.closed_at, oid, d) for oid, d in zip(ids, deals, strict=True)
                         if d.status == "won" and d.closed_at and d.closed_at > self.ago(180)),
                        key=lambda item: item[0], reverse=True)
        rows: list[dict[str, Any]] = []
        for n, (closed, oid, deal) in enumerate(recent):
            close_day = closed.astimezone(self.tz).date()
            plan = [("首付款", 0.4, close_day + timedelta(days=7)), ("验收款", 0.4, close_day + timedelta(days=60)),
                    ("尾款", 0.2, close_day + timedelta(days=120))]
            if n == 0:
                plan[-1] = ("尾款", 0.2, today + timedelta(days=3))
            if n == 1:
                plan[-1] = ("尾款", 0.2, today - timedelta(days=5))
            for label, share, due in plan:
                paid = due < today - timedelta(days=3) and n > 1 or label == "首付款"
                rows.append({"opportunity_id": oid, "label": label, "due_on": due, "amount": int(deal.amount * share),
                             "received_amount": int(deal.amount * share) if paid else 0,
                             "received_at": self._noon(due) if paid else None, "receipt": {}, "_rep": deal.owner})
        ids_ = self.bulk(PaymentMilestone, [{k: v for k, v in r.items() if k != "_rep"} for r in rows])
        self.bulk(Payment, [{"opportunity_id": r["opportunity_id"], "milestone_id": mid, "rep_id": r["_rep"],
                             "amount": r["received_amount"], "received_at": r["received_at"], "receipt": {}}
                            for r, mid in zip(rows, ids_, strict=True) if r["received_amount"]])

    def _noon(self, day: date) -> datetime:
        return datetime.combine(day, time(12), self.tz)

    def behaviors(self, reps: list[User], deals: list[_Deal], ids: list[int]) -> None:
        """About every other working day over the last 120 days, under the value map in force that day."""
        versions = sorted(self.rules.behaviors.versions, key=lambda v: v.effective)
        types = {v.quarter: behavior_store.ensure_types(self.session, v.quarter,
                                                        [b.model_dump() for b in v.behaviors]) for v in versions}
        open_ids = {rep.id: [oid for oid, d in zip(ids, deals, strict=True) if d.owner == rep.id and d.status == "open"]
                    for rep in reps}
        today = self.at.astimezone(self.tz).date()
        rows = []
        for day_back in range(120, 0, -1):
            day = today - timedelta(days=day_back)
            if day.weekday() >= 5:
                continue
            version = next((v for v in reversed(versions) if v.effective <= day), versions[0])
            for rep in reps:
                if rep.hired_on and rep.hired_on > day or self.rng.random() > 0.55:
                    continue
                kind = self.rng.choice(list(types[version.quarter].values()))
                rows.append({"rep_id": rep.id, "opportunity_id": self.rng.choice(open_ids[rep.id]),
                             "behavior_type_id": kind.id, "points": kind.points,
                             "at": datetime.combine(day, time(self.rng.randint(9, 18)), self.tz),
                             "evidence_touch_id": None})
        self.bulk(BehaviorLog, rows)

    def forecasts(self, reps: list[User], deals: list[_Deal], ids: list[int]) -> None:
        """This month's submitted forecast per experienced rep, over their late-stage deals."""
        period = self.at.astimezone(self.tz).strftime("%Y-%m")
        late = {s.name for s in self.stages[-2:]}
        experienced = [r for r in reps if not r.hired_on or (self.at.date() - r.hired_on).days > 60]
        forecast_ids = self.bulk(Forecast, [{"rep_id": r.id, "period": period, "status": "submitted",
                                             "submitted_at": self.ago(3)} for r in experienced])
        items = [{"forecast_id": fid, "opportunity_id": oid, "category": self.rng.choice(("commit", "best")),
                  "amount": deal.amount, "expected_close": (self.at + timedelta(days=20)).date(),
                  "risk": self.rng.choice(FORECAST_RISKS)}
                 for fid, rep in zip(forecast_ids, experienced, strict=True)
                 for oid, deal in zip(ids, deals, strict=True)
                 if deal.owner == rep.id and deal.status == "open" and deal.stages[-1][0] in late]
        self.bulk(ForecastItem, items)

    def reports(self, reps: list[User], customers: list[dict[str, Any]]) -> None:
        """Daily reports for the last ten working days, tagged by the value map of reports.yaml."""
        tags = self.rules.reports.value_tags
        today = self.at.astimezone(self.tz).date()
        rows = []
        for day_back in range(14, 0, -1):
            day = today - timedelta(days=day_back)
            if day.weekday() >= 5:
                continue
            for rep in reps:
                if rep.hired_on and rep.hired_on > day:
                    continue
                chosen = [t for t in tags if self.rng.random() < 0.4]
                own = [c["name"] for c in customers if c["owner_id"] == rep.id]
                rows.append({"rep_id": rep.id, "day": day, "customers": self.rng.sample(own, 2),
                             "keywords": [], "todos": [], "body": {}, "source": "quick_note",
                             "value_score": min(100, sum(t.weight for t in chosen)),
                             "value_tags": [t.name for t in chosen],
                             "created_at": datetime.combine(day, time(18, 30), self.tz)})
        self.bulk(DailyReport, rows)

