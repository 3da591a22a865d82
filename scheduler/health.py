"""Health scores: `recompute` rescores a customer's opportunities right after new evidence, the tick only those
whose score time alone can have moved (their stored rescore instant has passed); both tell the rep once when one
drops below the line and close the warning when it recovers."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, exists, select, update
from sqlmodel import Session

from bot.cards import Button, Card
from rules import health as scoring
from rules.lights import idle_days
from rules.loader import RuleSet
from scheduler.health_score import scored
from scheduler.notify import Push, deliver
from store import alerts, sweep_rules
from store.health import Evidence, evidence, evidence_moves, save_scores
from store.models import RESCORE_NOW, Alert, Opportunity, Outbox

BATCH = 2000
log = logging.getLogger(__name__)
WITHDRAWN = "cancelled"  # an outbox status the dispatcher never picks up

TEXT = {
    "title": "🩺 商机健康度 {score} 分（低于 {threshold}）",
    "intro": "「{customer}」{name} 的健康度偏低，原因：",
    "touches": "有效触达 {n} 次（近 {days} 天）· {points}/{max}",
    "files": "发送文件 {n} 份 · {points}/{max}",
    "feedback": "客户反馈{detail} · {points}/{max}",
    "no_feedback": "（无）",
    "dwell": "阶段停留 {n} 天 · {points}/{max}",
    "suggest": "建议：",
    "update": "更新进展",
    "line": "🩺 {customer} · {score} 分",
    "digest": "商机健康度提醒",
    "withdrawn": "健康度已恢复，提醒撤回",
}


def assess(items: list[Evidence], at: datetime, rules: RuleSet) -> list[tuple[Evidence, scoring.Health]]:
    """Scores a batch; pure apart from reading the rules."""
    results = []
    for item in items:
        days = None if item.last_valid_touch is None else (at - item.last_valid_touch).days
        facts = scoring.Facts(valid_touches=item.valid_touches, files=item.files, negative=item.negative,
                              positive=item.positive, days_since_valid_touch=days,
                              idle_days=idle_days(item.last_update_at, at))
        results.append((item, scoring.score(facts, rules.stages.stage(item.stage), rules.health)))
    return results


def run(session: Session, at: datetime, rules: RuleSet, tz: ZoneInfo) -> int:
    """The tick: rescores only opportunities whose rescore instant has passed (inputs changed, or time moved their
    score), in batches; after a bulk import that is every row once, with progress in the log. New scoring rules
    (an edited health.yaml or stages.yaml, or a version saved in the admin console) make every open one due first."""
    if sweep_rules.changed(session, "health", _fingerprint(rules), at=at):
        session.execute(update(Opportunity).where(Opportunity.status == "open")
                        .values(health_rescore_at=RESCORE_NOW).execution_options(synchronize_session=False))
    due = sorted(session.execute(select(Opportunity.id, Opportunity.customer_id)  # an index range, not a scan by id
                                 .where(Opportunity.health_rescore_at <= at)).all())
    if not due:
        return 0
    rescoring = _Rescoring(at, rules)  # building the scoring statement costs more than finding nothing due
    pushes: list[Push] = []
    for start in range(0, len(due), BATCH):
        batch = due[start:start + BATCH]
        pushes += rescoring.run(session, [row[0] for row in batch], {row[1] for row in batch})
        if len(due) > BATCH:
            log.info("health: %d of %d due opportunities rescored", start + len(batch), len(due))
    return deliver(session, pushes, at=at, tz=tz, notify=rules.notify, digest_title=TEXT["digest"])


def _fingerprint(rules: RuleSet) -> str:
    """What a score depends on besides evidence and time: the health rules and the stages' thresholds."""
    return json.dumps([rules.health.model_dump(mode="json"), rules.stages.model_dump(mode="json")],
                      ensure_ascii=False, sort_keys=True)


def recompute(session: Session, opportunity_id: int, at: datetime, rules: RuleSet, tz: ZoneInfo) -> int:
    """Right after new evidence (a valid touch, feedback from a report) for this opportunity's customer: rescores
    the customer's open opportunities, so scores and the rep's alerts do not wait for the tick. It warns only
    about a drop below the line (from a stored score at or above it): one already low, or never scored, is the
    tick's to tell (it stays due), so a rep is not warned the moment they act. Idempotent for one `at`."""
    session.flush()  # the evidence the caller just added belongs to this transaction's view
    customer_id = session.execute(
        select(Opportunity.customer_id).where(Opportunity.id == opportunity_id)).scalar_one_or_none()
    if customer_id is None:
        return 0
    ids = list(session.execute(select(Opportunity.id).where(
        Opportunity.customer_id == customer_id, Opportunity.status == "open").order_by(Opportunity.id)).scalars())
    pushes = _Rescoring(at, rules, drops_only=True).run(session, ids, {customer_id})
    return deliver(session, pushes, at=at, tz=tz, notify=rules.notify, digest_title=TEXT["digest"])


class _Rescoring:
    """One tick's (or one recompute's) scoring statement, built once and run per batch of opportunities."""

    def __init__(self, at: datetime, rules: RuleSet, drops_only: bool = False) -> None:
        self.at, self.rules, self.drops_only = at, rules, drops_only
        self.window = timedelta(days=rules.health.window_days)
        warned = exists().where(Alert.opportunity_id == Opportunity.id, Alert.kind == "health_low",
                                Alert.resolved_at.is_(None))
        stmt, self.parts = scored(rules.health, rules.stages, at, Opportunity.id, Opportunity.health,
                                  warned.label("warned"), Opportunity.customer_id, Opportunity.stage,
                                  Opportunity.last_update_at, customer_ids=bindparam("customers", expanding=True))
        self.query = stmt.where(Opportunity.status == "open", Opportunity.id.in_(bindparam("ids", expanding=True)))
        self._dwell_days: dict[tuple[str, int], int | None] = {}

    def run(self, session: Session, ids: list[int], customer_ids: set[int]) -> list[Push]:
        """These opportunities (of these customers): stores each open one's score and next rescore instant (a
        snapshot when the score moved), closes recovered alerts, warns newly low (with `drops_only`, only those
        whose stored score was at or above the line; the others stay due for the tick)."""
        at, threshold = self.at, self.rules.health.threshold
        moves = evidence_moves(session, customer_ids=customer_ids, at=at, window=self.window)
        scores: dict[int, tuple[int | None, datetime | None]] = dict.fromkeys(ids, (None, None))  # closed: done
        snapshots: list[tuple[int, int, dict[str, int]]] = []
        newly_low: list[int] = []
        for opp_id, stored, already_warned, customer_id, stage, last_update, *points in session.execute(
                self.query.order_by(Opportunity.id), {"ids": ids, "customers": list(customer_ids)}):
            total = sum(points)
            if total != stored:
                snapshots.append((opp_id, total, dict(zip(self.parts, points, strict=True))))
            due = self._next(stage, last_update, moves.get(customer_id))
            if total < threshold and not already_warned:
                if self.drops_only and (stored is None or stored < threshold):
                    due = at
                else:
                    newly_low.append(opp_id)
            scores[opp_id] = (total, due)
        save_scores(session, scores, snapshots, at=at)
        _close_recovered(session, at, threshold, ids)
        pushes: list[Push] = []
        for batch in evidence(session, since=at - self.window, at=at, opportunity_ids=newly_low):
            pushes += _warn(session, [(i, r) for i, r in assess(batch, at, self.rules) if i.owner_id], at,
                            self.rules)
        return pushes

    def _next(self, stage: str, last_update: datetime, evidence_moves_at: datetime | None) -> datetime | None:
        """The first instant after `at` its score can change with nothing new happening; None once it cannot."""
        idle = idle_days(last_update, self.at)
        if (stage, idle) not in self._dwell_days:
            self._dwell_days[stage, idle] = scoring.next_dwell_change(
                self.rules.stages.stage(stage), idle, self.rules.health.components.dwell.max)
        day = self._dwell_days[stage, idle]
        dwell = None if day is None else last_update + timedelta(days=day)
        return min((moment for moment in (dwell, evidence_moves_at) if moment), default=None)


def _warn(session: Session, scored_items: list[tuple[Evidence, scoring.Health]], at: datetime,
          rules: RuleSet) -> list[Push]:
    """One alert per stretch below the threshold (the sweep skips opportunities with an open one)."""
    cards = {item.opportunity_id: _card(item, result, rules, at) for item, result in scored_items}
    raised = alerts.raise_many(session, [
        {"kind": "health_low", "level": "warning", "dedupe_key": _key(item, at), "opportunity_id": item.opportunity_id,
         "customer_id": item.customer_id, "rep_id": item.owner_id, "manager_id": None, "created_at": at,
         "resolved_at": None, "resolved_by": None, "message": "\n".join(cards[item.opportunity_id].lines)}
        for item, _ in scored_items])
    return [Push(recipient=item.owner_id or "", dedupe_key=_key(item, at), card=cards[item.opportunity_id],
                 line=TEXT["line"].format(customer=item.customer, score=result.score))
            for item, result in scored_items if _key(item, at) in raised]


def _key(item: Evidence, at: datetime) -> str:
    return f"health_low:{item.opportunity_id}:{at.isoformat()}"


def _card(item: Evidence, result: scoring.Health, rules: RuleSet, at: datetime) -> Card:
    c, comp = rules.health.components, result.components
    negative = "：" + "、".join(sorted(set(item.negative)))
    lines = [
        TEXT["intro"].format(customer=item.customer, name=item.name),
        "· " + TEXT["touches"].format(n=item.valid_touches, days=rules.health.window_days, points=comp["touches"],
                                      max=c.touches.max),
        "· " + TEXT["files"].format(n=item.files, points=comp["files"], max=c.files.max),
        "· " + TEXT["feedback"].format(detail=negative if item.negative else TEXT["no_feedback"],
                                       points=comp["feedback"], max=c.feedback.max),
        "· " + TEXT["dwell"].format(n=idle_days(item.last_update_at, at), points=comp["dwell"], max=c.dwell.max),
    ]
    if result.suggestions:
        lines.append(TEXT["suggest"])
        lines += [f"{n}. {text}" for n, text in enumerate(result.suggestions, 1)]
    return Card(title=TEXT["title"].format(score=result.score, threshold=rules.health.threshold), lines=lines,
                buttons=[Button(TEXT["update"], "progress:update", {"opportunity": item.opportunity_id}, "primary")])


def _close_recovered(session: Session, at: datetime, threshold: int, ids: list[int]) -> None:
    """Resolves warnings whose opportunity recovered or closed, and withdraws their pushes still waiting (quiet
    hours): the rep is never told about a problem already gone. Digests already folded are left as they are."""
    recovered = exists().where(Opportunity.id == Alert.opportunity_id,
                               (Opportunity.health >= threshold) | (Opportunity.status != "open"))
    closing = and_(Alert.opportunity_id.in_(ids), Alert.kind == "health_low", Alert.resolved_at.is_(None), recovered)
    session.execute(
        update(Outbox).where(Outbox.status == "pending", Outbox.dedupe_key.in_(select(Alert.dedupe_key).where(closing)))
        .values(status=WITHDRAWN, last_error=TEXT["withdrawn"]).execution_options(synchronize_session=False)
    )
    session.execute(
        update(Alert).where(closing)
        .values(resolved_at=at, resolved_by="system").execution_options(synchronize_session=False)
    )
