"""The health score as one SQL expression per component, so the nightly sweep never loops over every row.

It mirrors rules.health.score (the reference the cards use); tests pin that both agree.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, and_, case, func, literal, select

from rules.health import dwell_points
from rules.schema import HealthFile, StagesFile
from store.models import FeedbackHit, Opportunity, Touch

FILE_KINDS = ("pdf", "file")


def _capped(count: Any, per_item: int, maximum: int) -> ColumnElement[int]:
    return case((count * per_item >= maximum, literal(maximum)), else_=count * per_item)


def _dwell(stages: StagesFile, at: datetime, maximum: int) -> ColumnElement[int]:
    """Whole idle days, as in rules.health: one branch per (stage, day) between the yellow light and zero."""
    branches = []
    for stage in stages.stages:
        if not stage.yellow_days:
            continue
        zero_at = 2 * (stage.escalate_days or stage.yellow_days)
        branches.append((and_(Opportunity.stage == stage.name,
                              Opportunity.last_update_at > at - timedelta(days=stage.yellow_days)), literal(maximum)))
        for day in range(stage.yellow_days, zero_at):
            branches.append((and_(Opportunity.stage == stage.name,
                                  Opportunity.last_update_at > at - timedelta(days=day + 1)),
                             literal(dwell_points(stage, day, maximum))))
        branches.append((Opportunity.stage == stage.name, literal(0)))
    return case(*branches, else_=literal(maximum)) if branches else literal(maximum)


def scored(rules: HealthFile, stages: StagesFile, at: datetime, *columns: Any,
           customer_ids: Collection[int] | BindParameter[Any] | None = None) -> tuple[Select[Any], list[str]]:
    """SELECT columns + one column per component (names returned), per-customer counts aggregated once.

    `customer_ids` (or an expanding parameter bound at execution) narrows the counts to those customers, so
    rescoring a few opportunities reads only their evidence.
    """
    since = at - timedelta(days=rules.window_days)
    c = rules.components
    touch_customer = (Touch.customer_id.is_not(None) if customer_ids is None
                      else Touch.customer_id.in_(customer_ids))
    hit_customer = (FeedbackHit.customer_id.is_not(None) if customer_ids is None
                    else FeedbackHit.customer_id.in_(customer_ids))
    touches = (
        select(Touch.customer_id.label("customer_id"),
               func.sum(case((Touch.valid.is_(True), 1), else_=0)).label("valid"),
               func.sum(case((Touch.kind.in_(FILE_KINDS), 1), else_=0)).label("files"))
        .where(Touch.at > since, Touch.at <= at, touch_customer)
        .group_by(Touch.customer_id).subquery()
    )
    hits = (
        select(FeedbackHit.customer_id.label("customer_id"),
               func.sum(case((FeedbackHit.polarity == "negative", 1), else_=0)).label("negative"),
               func.sum(case((FeedbackHit.polarity == "positive", 1), else_=0)).label("positive"))
        .where(FeedbackHit.at > since, FeedbackHit.at <= at, hit_customer)
        .group_by(FeedbackHit.customer_id).subquery()
    )
    valid, files = func.coalesce(touches.c.valid, 0), func.coalesce(touches.c.files, 0)
    feedback = (c.feedback.base + c.feedback.per_negative * func.coalesce(hits.c.negative, 0)
                + c.feedback.per_positive * func.coalesce(hits.c.positive, 0))
    parts = {
        "touches": _capped(valid, c.touches.per_item, c.touches.max),
        "files": _capped(files, c.files.per_item, c.files.max),
        "feedback": case((feedback <= 0, literal(0)), (feedback >= c.feedback.max, literal(c.feedback.max)),
                         else_=feedback),
        "dwell": _dwell(stages, at, c.dwell.max),
    }
    stmt = (select(*columns, *(expr.label(name) for name, expr in parts.items()))
            .outerjoin(touches, touches.c.customer_id == Opportunity.customer_id)
            .outerjoin(hits, hits.c.customer_id == Opportunity.customer_id))
    return stmt, list(parts)
