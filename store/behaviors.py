"""Behavior types (versioned by quarter), the points reps earn with them, and what they redeem."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from store.models import BehaviorLog, BehaviorType, OnboardingTask, Redemption, Reward

SPENDING = ("pending", "approved")  # a pending redemption already holds its points


def ensure_types(session: Session, quarter: str, behaviors: list[dict[str, object]]) -> dict[str, BehaviorType]:
    """The quarter's types as rows (created on first use), so a log keeps the version it was earned under."""
    existing = {t.code: t for t in session.execute(
        select(BehaviorType).where(BehaviorType.quarter == quarter)).scalars()}
    for spec in behaviors:
        if spec["code"] not in existing:
            row = BehaviorType(quarter=quarter, **spec)  # type: ignore[arg-type]
            session.add(row)
            existing[str(spec["code"])] = row
    session.flush()
    return existing


def log(session: Session, *, rep_id: str, opportunity_id: int | None, behavior: BehaviorType, at: datetime,
        evidence_touch_id: int | None = None) -> BehaviorLog:
    row = BehaviorLog(rep_id=rep_id, opportunity_id=opportunity_id, behavior_type_id=behavior.id,
                      points=behavior.points, at=at, evidence_touch_id=evidence_touch_id)
    session.add(row)
    session.flush()
    return row


def totals(session: Session, *, since: datetime, until: datetime,
           rep_ids: list[str] | None = None) -> dict[str, dict[str, int]]:
    """rep → category → points earned in [since, until), one GROUP BY."""
    stmt = (
        select(BehaviorLog.rep_id, BehaviorType.category, func.sum(BehaviorLog.points))
        .join(BehaviorType, BehaviorType.id == BehaviorLog.behavior_type_id)
        .where(BehaviorLog.at >= since, BehaviorLog.at < until)
        .group_by(BehaviorLog.rep_id, BehaviorType.category)
    )
    if rep_ids is not None:
        stmt = stmt.where(BehaviorLog.rep_id.in_(rep_ids))
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for rep, category, points in session.execute(stmt):
        found[rep][category] = int(points)
    return dict(found)


def by_day(session: Session, *, rep_id: str, since: datetime, until: datetime) -> list[tuple[datetime, str, int]]:
    stmt = (
        select(BehaviorLog.at, BehaviorType.category, BehaviorLog.points)
        .join(BehaviorType, BehaviorType.id == BehaviorLog.behavior_type_id)
        .where(BehaviorLog.rep_id == rep_id, BehaviorLog.at >= since, BehaviorLog.at < until)
    )
    return [(at, category, points) for at, category, points in session.execute(stmt)]


def balance(session: Session, rep_id: str) -> int:
    """Points earned ever, less what redemptions hold or spent."""
    earned = session.execute(select(func.coalesce(func.sum(BehaviorLog.points), 0))
                             .where(BehaviorLog.rep_id == rep_id)).scalar_one()
    spent = session.execute(select(func.coalesce(func.sum(Redemption.points), 0))
                            .where(Redemption.rep_id == rep_id, Redemption.status.in_(SPENDING))).scalar_one()
    return int(earned) - int(spent)


def count_logged(session: Session, *, rep_id: str, codes: list[str]) -> dict[str, int]:
    """How often the rep logged each behavior code, whatever the quarter."""
    stmt = (
        select(BehaviorType.code, func.count())
        .join(BehaviorLog, BehaviorLog.behavior_type_id == BehaviorType.id)
        .where(BehaviorLog.rep_id == rep_id, BehaviorType.code.in_(codes))
        .group_by(BehaviorType.code)
    )
    return {code: int(n) for code, n in session.execute(stmt)}


def ensure_reward(session: Session, *, code: str, name: str, cost: int) -> Reward:
    """The catalogue lives in the rules; a row is made when something is first redeemed."""
    reward = session.execute(select(Reward).where(Reward.code == code)).scalars().first()
    if reward is None:
        reward = Reward(code=code, name=name, cost=cost)
        session.add(reward)
        session.flush()
    return reward


def onboarding_tasks(session: Session, rep_id: str) -> list[OnboardingTask]:
    return list(session.execute(select(OnboardingTask).where(OnboardingTask.rep_id == rep_id)
                                .order_by(OnboardingTask.id)).scalars())


def ensure_onboarding(session: Session, rep_id: str, tasks: list[tuple[str, str, int]]) -> list[OnboardingTask]:
    """(code, name, target) tasks for a new rep, created once; returns them all."""
    existing = {t.code for t in onboarding_tasks(session, rep_id)}
    for code, name, target in tasks:
        if code not in existing:
            session.add(OnboardingTask(rep_id=rep_id, code=code, name=name, target=target))
    session.flush()
    return onboarding_tasks(session, rep_id)


def counts_by_code(session: Session, *, since: datetime, until: datetime) -> list[tuple[str, str, str, int, int]]:
    """(rep, quarter, behavior code, times logged, points earned) in [since, until): what re-pricing is applied to."""
    stmt = (
        select(BehaviorLog.rep_id, BehaviorType.quarter, BehaviorType.code, func.count(), func.sum(BehaviorLog.points))
        .join(BehaviorType, BehaviorType.id == BehaviorLog.behavior_type_id)
        .where(BehaviorLog.at >= since, BehaviorLog.at < until)
        .group_by(BehaviorLog.rep_id, BehaviorType.quarter, BehaviorType.code)
    )
    return [(rep, quarter, code, int(n), int(points)) for rep, quarter, code, n, points in session.execute(stmt)]
