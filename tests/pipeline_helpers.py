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
