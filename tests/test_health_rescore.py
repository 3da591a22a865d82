"""Health by change: evidence rescores its customer at once, the tick reads only opportunities that are due, and
time alone still turns a silent customer red when the rules say so."""

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, timedelta

import pytest
from sqlalchemy import Engine, MetaData, Table, insert, text
from sqlmodel import Session, select

from bot.events import Event
from scheduler import health
from store import migrate
from store.db import make_engine, session_scope
from store.models import RESCORE_NOW, Alert, HealthSnapshot, Opportunity
from tests.conftest import BACKENDS, T0, TZ, _new_pg_schema
from tests.pipeline_helpers import customer_of, opportunity, touch
from tests.test_health_events import health_cards, snapshots
from tests.test_health_sweep import sweep

DAY = timedelta(days=1)
HUADONG = "华东医疗器械有限公司"


def rescore_at(runtime, opp: int):
    with Session(runtime.engine) as session:
        return session.get(Opportunity, opp).health_rescore_at


def sibling(runtime, opp: int, *, name: str) -> int:
    """A second open opportunity of the same customer, updated when the first was."""
    with Session(runtime.engine) as session:
        first = session.get(Opportunity, opp)
        row = Opportunity(customer_id=first.customer_id, owner_id=first.owner_id, name=name, stage=first.stage,
                          stage_entered_at=first.stage_entered_at, last_update_at=first.last_update_at,
                          created_at=first.created_at)
        session.add(row)
        session.commit()
        return row.id


def green(runtime, at, customer=HUADONG) -> int:
    """方案演示 updated at `at` with three PDFs sent then: 76 (touches 21, files 15, feedback 20, dwell 20)."""
    opp = opportunity(runtime.engine, customer=customer, at=at)
    for minutes in (1, 2, 3):
        touch(runtime.engine, customer_id=customer_of(runtime.engine, opp), at=at + timedelta(minutes=minutes))
    return opp


def test_a_touch_rescores_every_open_opportunity_of_its_customer_at_once(runtime):
    first = opportunity(runtime.engine, customer=HUADONG, at=T0 - 2 * DAY)
    second = sibling(runtime, first, name="二期项目")
    assert sweep(runtime, T0 - DAY) == 1  # both 40: one digest
    assert snapshots(runtime, first) == snapshots(runtime, second) == [40]
    runtime.clock.set(T0)
    runtime.inbox.ingest(Event(channel="local", msg_id=uuid.uuid4().hex, sender="lilei", kind="file",
                               filename=f"{HUADONG}方案.pdf", received_at=T0))
    runtime.work_once()
    # No tick ran: the PDF (touches 7, files 5) counts for both opportunities of the customer right away.
    assert snapshots(runtime, first) == snapshots(runtime, second) == [40, 52]
    # Neither is due again before its stage clock moves (方案演示 loses dwell points on the sixth idle day): the
    # one the PDF was linked to had its clock reset by it, the other was last updated two days ago.
    assert {rescore_at(runtime, first), rescore_at(runtime, second)} == {T0 + 6 * DAY, T0 + 4 * DAY}


def test_the_tick_rescores_only_due_opportunities_and_keeps_their_next_instant(runtime):
    a = green(runtime, T0, customer="客户甲有限公司")
    b = green(runtime, T0 - DAY, customer="客户乙有限公司")
    assert sweep(runtime, T0 + timedelta(hours=1)) == 0
    assert (snapshots(runtime, a), snapshots(runtime, b)) == ([76], [76])
    assert (rescore_at(runtime, a), rescore_at(runtime, b)) == (T0 + 6 * DAY, T0 + 5 * DAY)

    assert sweep(runtime, T0 + 2 * DAY) == 0  # nothing due: nothing read, nothing written
    assert (rescore_at(runtime, a), rescore_at(runtime, b)) == (T0 + 6 * DAY, T0 + 5 * DAY)

    touch(runtime.engine, customer_id=customer_of(runtime.engine, a), at=T0 + 2 * DAY, kind="product_link")
    assert rescore_at(runtime, a) == T0 + 2 * DAY and rescore_at(runtime, b) == T0 + 5 * DAY
    assert sweep(runtime, T0 + 2 * DAY + timedelta(hours=1)) == 0
    assert (snapshots(runtime, a), snapshots(runtime, b)) == ([76, 83], [76])  # touches 28
    assert (rescore_at(runtime, a), rescore_at(runtime, b)) == (T0 + 6 * DAY, T0 + 5 * DAY)

    assert sweep(runtime, T0 + 5 * DAY) == 0  # b's sixth idle day: dwell 18
    assert (snapshots(runtime, a), snapshots(runtime, b)) == ([76, 83], [76, 74])
    assert rescore_at(runtime, b) == T0 + 6 * DAY  # and one day later again


def test_decay_turns_a_silent_customer_red_on_time(runtime):
    opp = green(runtime, T0)
    at = T0 + timedelta(hours=1)
    while at < T0 + 13 * DAY:  # a tick every six hours: dwell falls a little each idle day from the sixth
        assert sweep(runtime, at) == 0
        at += timedelta(hours=6)
    assert snapshots(runtime, opp) == [76, 74, 72, 69, 67, 65, 63, 60]
    assert sweep(runtime, T0 + 13 * DAY - timedelta(minutes=1)) == 0
    assert sweep(runtime, T0 + 13 * DAY) == 1  # 13 idle days: dwell 2, 58 in all
    [card] = health_cards(runtime)
    assert card["title"] == "🩺 商机健康度 58 分（低于 60）"
    assert "· 阶段停留 13 天 · 2/20" in card["lines"]
    assert sweep(runtime, T0 + 14 * DAY + timedelta(minutes=5)) == 0  # the PDFs left the window: 20, already told
    assert snapshots(runtime, opp)[-1] == 20
    assert rescore_at(runtime, opp) is None  # nothing left that time can change


def test_closing_an_opportunity_resolves_its_health_warning_at_the_next_tick(runtime):
    opp = opportunity(runtime.engine, customer=HUADONG, at=T0)
    assert sweep(runtime, T0 + DAY) == 1
    with session_scope(runtime.engine) as session:
        session.get(Opportunity, opp).status = "won"
    assert rescore_at(runtime, opp) == RESCORE_NOW
    assert sweep(runtime, T0 + DAY + timedelta(hours=1)) == 0
    with Session(runtime.engine) as session:
        [alert] = session.exec(select(Alert)).all()
        assert alert.resolved_by == "system"
        assert session.get(Opportunity, opp).health_rescore_at is None


@pytest.fixture(params=BACKENDS)
def blank(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    """An empty database, so the migrations run from the start on it."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    admin = request.getfixturevalue("pg_admin")
    schema, url = _new_pg_schema(admin)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def test_an_upgraded_database_rescores_its_existing_opportunities_like_a_fresh_one(blank, runtime):
    migrate.upgrade(blank, "0006")
    old = MetaData()
    with blank.begin() as conn:
        tables = {name: Table(name, old, autoload_with=conn) for name in ("user", "customer", "opportunity")}
        conn.execute(insert(tables["user"]), [{"id": "lilei", "name": "李雷", "role": "rep", "active": True}])
        conn.execute(insert(tables["customer"]), [{"id": 1, "name": HUADONG, "aliases": [], "owner_id": "lilei"}])
        since = (T0 - 2 * DAY).astimezone(UTC).replace(tzinfo=None)
        conn.execute(insert(tables["opportunity"]), [
            {"id": 1, "customer_id": 1, "owner_id": "lilei", "name": "一期项目", "stage": "方案演示",
             "stage_entered_at": since, "last_update_at": since, "status": "open", "decision_chain": [],
             "evidence": {}, "tags": []}])
    migrate.upgrade(blank)
    with Session(blank) as session:
        assert session.get(Opportunity, 1).health_rescore_at == RESCORE_NOW
    fresh = opportunity(runtime.engine, customer=HUADONG, at=T0 - 2 * DAY)
    for engine in (blank, runtime.engine):
        with session_scope(engine) as session:
            assert health.run(session, T0, runtime.rules, TZ) == 1
    with Session(blank) as upgraded, Session(runtime.engine) as new:
        assert ((upgraded.get(Opportunity, 1).health, upgraded.get(Opportunity, 1).health_rescore_at)
                == (new.get(Opportunity, fresh).health, new.get(Opportunity, fresh).health_rescore_at)
                == (40, T0 + 4 * DAY))
        assert [s.score for s in upgraded.exec(select(HealthSnapshot)).all()] == [40]


def test_new_scoring_rules_rescore_every_open_opportunity_at_the_next_tick(runtime):
    """A threshold raised (an edited health.yaml, or a version saved in the admin console) reaches deals that nothing
    else made due: the 76-point deal is warned about once the line is at 80."""
    opp = green(runtime, T0)
    assert sweep(runtime, T0 + timedelta(hours=1)) == 0
    assert sweep(runtime, T0 + 2 * DAY) == 0 and snapshots(runtime, opp) == [76]  # nothing due, nothing rescored
    stricter = replace(runtime.rules, health=runtime.rules.health.model_copy(update={"threshold": 80}))
    at = T0 + 2 * DAY + timedelta(hours=1)
    runtime.clock.set(at)
    with session_scope(runtime.engine) as session:
        assert health.run(session, at, stricter, TZ) == 1
    runtime.dispatcher.flush()
    [card] = health_cards(runtime)
    assert card["title"] == "🩺 商机健康度 76 分（低于 80）"
