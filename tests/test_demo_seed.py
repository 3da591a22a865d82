"""The demo company: deterministic from its seed, idempotent, and with every light and panel populated."""

from __future__ import annotations

import hashlib
import shutil

from sqlalchemy import Engine, func, select

from bot import orgfile
from bot.demo import populate
from rules.lights import light
from store.db import make_engine, session_scope
from store.models import (
    ChatBinding,
    Customer,
    Opportunity,
    PaymentMilestone,
    Team,
    Touch,
    User,
)
from tests.conftest import DATA, T0, TZ

TABLES = (Customer, Opportunity, Touch, PaymentMilestone, ChatBinding)


def counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return {m.__tablename__: session.execute(select(func.count()).select_from(m)).scalar_one() for m in TABLES}


def fingerprint(engine: Engine) -> str:
    """What a person would see: customers, and each deal's owner, stage, status, amount and times."""
    with session_scope(engine) as session:
        rows = session.execute(select(Customer.name, Opportunity.owner_id, Opportunity.stage, Opportunity.status,
                                      Opportunity.amount, Opportunity.created_at, Opportunity.last_update_at)
                               .join(Customer).order_by(Opportunity.id)).all()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_the_same_seed_gives_the_same_company_and_a_second_run_adds_nothing(runtime, engine, tmp_path,
                                                                             sqlite_template):
    first = populate(engine, runtime.rules, at=T0, tz=TZ)
    assert first.rows["customer"] == 300 and first.rows["opportunity"] > 500
    before = counts(engine)
    assert populate(engine, runtime.rules, at=T0, tz=TZ).rows == {}
    assert counts(engine) == before

    other_path = tmp_path / "other.db"
    shutil.copy(sqlite_template, other_path)
    other = make_engine(f"sqlite:///{other_path}")
    teams, users = orgfile.parse(DATA / "org.yaml")
    with session_scope(other) as session:
        orgfile.apply(session, teams, users)
    populate(other, runtime.rules, at=T0, tz=TZ)
    assert counts(other) == before and fingerprint(other) == fingerprint(engine)
    other.dispose()


def test_the_company_has_regions_new_hires_every_light_and_payments_due(runtime, engine):
    populate(engine, runtime.rules, at=T0, tz=TZ)
    stages = {s.name: s for s in runtime.rules.stages.stages}
    with session_scope(engine) as session:
        assert {"华东", "华北"} <= set(session.execute(select(Team.region)).scalars())
        reps = session.execute(select(User).where(User.role == "rep", User.id.in_(["lilei", "xuqing", "hanmeimei"])))
        assert len(list(reps.scalars())) == 3
        industries = set(session.execute(select(Customer.industry)).scalars())
        assert len(industries) == 8
        open_ = session.execute(select(Opportunity).where(Opportunity.status == "open")).scalars().all()
        lights = {light(stages[o.stage], o.last_update_at, T0) for o in open_}
        assert lights == {"green", "yellow", "escalated"}
        assert {o.stage for o in open_} == {s.name for s in stages.values() if not (s.won or s.lost)}
        assert all(o.health is not None for o in open_)
        closed = session.execute(select(Opportunity.status, func.min(Opportunity.created_at))
                                 .where(Opportunity.status != "open").group_by(Opportunity.status)).all()
        assert {status for status, _ in closed} == {"won", "lost"}
        assert min(first for _, first in closed) < T0.replace(year=T0.year - 2)
        unpaid = session.execute(select(PaymentMilestone.due_on).where(PaymentMilestone.received_amount == 0)).scalars()
        days = {(due - T0.date()).days for due in unpaid}
        assert 3 in days and -5 in days
