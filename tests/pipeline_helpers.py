"""Builders for pipeline tests: customers and opportunities as a lead intake would leave them."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from store.models import Customer, Opportunity


def opportunity(engine, *, customer: str, owner: str = "lilei", stage: str = "方案演示", at: datetime,
                name: str = "一期项目") -> int:
    with Session(engine) as session:
        row = Customer(name=customer, owner_id=owner, created_at=at, industry="医疗")
        session.add(row)
        session.flush()
        opp = Opportunity(customer_id=row.id, owner_id=owner, name=name, stage=stage, stage_entered_at=at,
                          last_update_at=at, created_at=at, industry="医疗")
        session.add(opp)
        session.commit()
        return opp.id


def touch(engine, *, customer_id: int, at: datetime, kind: str = "pdf", valid: bool = True,
          rep: str = "lilei") -> None:
    from store.models import Touch

    with Session(engine) as session:
        session.add(Touch(customer_id=customer_id, rep_id=rep, kind=kind, valid=valid, at=at, source="local"))
        session.commit()


def feedback(engine, *, customer_id: int, keyword: str, polarity: str, at: datetime) -> None:
    from store.models import FeedbackHit

    with Session(engine) as session:
        session.add(FeedbackHit(customer_id=customer_id, keyword=keyword, polarity=polarity, at=at))
        session.commit()


def customer_of(engine, opportunity_id: int) -> int:
    with Session(engine) as session:
        return session.get(Opportunity, opportunity_id).customer_id
