"""Stage lights and payment milestones judged by change: stored instants, kept with every write and every rules change."""

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select

from bot import orgfile
from bot.app import create_app
from rules.loader import load_rules
from scheduler import payments, stage_lights
from store import migrate
from store.db import make_engine, session_scope
from store.models import Alert, Opportunity, Outbox, PaymentMilestone, SweepRules
from tests.conftest import BACKENDS, DATA, T0, TZ, _new_pg_schema
from tests.conversation import click, last_card, say
from tests.pipeline_helpers import opportunity

DAY = timedelta(days=1)


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def sweep(runtime, at, rules=None):
    runtime.clock.set(at)
    with session_scope(runtime.engine) as session:
        return stage_lights.run(session, at, rules or runtime.rules, TZ)


def stored_light(engine, opportunity_id):
    with Session(engine) as session:
        row = session.get(Opportunity, opportunity_id)
        return row.light, row.light_changes_at


def stage_alerts(engine):
    with Session(engine) as session:
        return session.exec(select(Alert).order_by(Alert.id)).all()


def with_yellow_days(rules, stage_name, days):
    stages = [s.model_copy(update={"yellow_days": days}) if s.name == stage_name else s for s in rules.stages.stages]
    return dataclasses.replace(rules, stages=rules.stages.model_copy(update={"stages": stages}))


def test_a_tick_stores_each_light_and_when_it_next_changes(runtime):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)  # 方案演示: yellow 5 days, escalate 7
    assert stored_light(runtime.engine, opp) == ("green", T0)  # new: judged at the next tick
    assert sweep(runtime, T0 + DAY) == 0
    assert stored_light(runtime.engine, opp) == ("green", T0 + 5 * DAY)
    assert sweep(runtime, T0 + 5 * DAY) == 1
    assert stored_light(runtime.engine, opp) == ("yellow", T0 + 7 * DAY)
    assert sweep(runtime, T0 + 7 * DAY) == 1
    assert stored_light(runtime.engine, opp) == ("escalated", None)  # nothing more to say until it moves


def test_a_new_lead_is_green_until_its_first_stage_threshold(runtime, client):
    card = last_card(say(client, "新线索 杭州云启网络科技，互联网行业，预算80w，决策人是李总CIO，目前在方案评估"))
    assert last_card(click(client, card, "10万以下"))["title"] == "✅ 线索已保存 · 杭州云启网络科技"
    with Session(runtime.engine) as session:
        [row] = session.exec(select(Opportunity)).all()
    assert (row.stage, row.light, row.light_changes_at) == ("线索", "green", T0 + 7 * DAY)  # 线索: yellow at 7 days
    assert sweep(runtime, T0 + 7 * DAY) == 1


def test_an_opportunity_moved_has_its_warning_closed_at_once(runtime, client):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    sweep(runtime, T0 + 5 * DAY)
    [warning] = stage_alerts(runtime.engine)
    assert warning.resolved_at is None
    runtime.clock.set(T0 + 5 * DAY + timedelta(hours=1))
    reply = client.post("/sim/api/send", json={"user": "lilei", "text": "进展 华东医疗器械有限公司 客户已确认下周POC"})
    assert reply.status_code == 200
    [warning] = stage_alerts(runtime.engine)  # no tick in between
    assert (warning.resolved_at, warning.resolved_by) == (T0 + 5 * DAY + timedelta(hours=1), "lilei")
    assert stored_light(runtime.engine, opp) == ("green", T0 + 5 * DAY + timedelta(hours=1))
    assert sweep(runtime, T0 + 6 * DAY) == 0
    assert stored_light(runtime.engine, opp) == ("green", T0 + 10 * DAY + timedelta(hours=1))


def test_a_closed_deal_is_judged_once_and_never_lights_up(runtime):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    sweep(runtime, T0 + 5 * DAY)
    with session_scope(runtime.engine) as session:
        session.get(Opportunity, opp).status = "lost"
        session.get(Opportunity, opp).light_changes_at = T0 + 5 * DAY  # as a writer outside the handlers would
    assert sweep(runtime, T0 + 30 * DAY) == 0
    [warning] = stage_alerts(runtime.engine)
    assert (warning.resolved_at, warning.resolved_by) == (T0 + 30 * DAY, "system")
    assert stored_light(runtime.engine, opp) == ("green", None)


def test_a_rules_change_of_a_threshold_recomputes_every_light(runtime):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    other = opportunity(runtime.engine, customer="华北制药集团", stage="商务谈判", at=T0)  # yellow 7 days
    assert sweep(runtime, T0 + 3 * DAY) == 0
    assert stored_light(runtime.engine, opp) == ("green", T0 + 5 * DAY)

    sooner = with_yellow_days(runtime.rules, "方案演示", 3)
    assert sweep(runtime, T0 + 3 * DAY + timedelta(hours=1), sooner) == 1
    [warning] = stage_alerts(runtime.engine)
    assert (warning.kind, warning.opportunity_id) == ("stage_yellow", opp)
    assert "（3 天亮黄灯，7 天将升级给主管）" in warning.message
    assert stored_light(runtime.engine, opp) == ("yellow", T0 + 7 * DAY)
    assert stored_light(runtime.engine, other) == ("green", T0 + 7 * DAY)  # its stage did not change

    assert sweep(runtime, T0 + 3 * DAY + timedelta(hours=2)) == 0  # back to 5 days: green again, nothing pushed
    assert stored_light(runtime.engine, opp) == ("green", T0 + 5 * DAY)
    with Session(runtime.engine) as session:
        assert session.get(SweepRules, "stage_lights").applied_at == T0 + 3 * DAY + timedelta(hours=2)
    assert sweep(runtime, T0 + 5 * DAY) == 0  # the same state was warned about already: one warning per state
    assert stored_light(runtime.engine, opp) == ("yellow", T0 + 7 * DAY)


def test_quiet_hours_and_dedupe_keys_are_as_before(runtime):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    late = (T0 + 5 * DAY).replace(hour=22)
    assert sweep(runtime, late) == 1
    assert sweep(runtime, late + timedelta(hours=1)) == 0
    with Session(runtime.engine) as session:
        [row] = session.exec(select(Outbox)).all()
    assert row.next_attempt_at.astimezone(TZ) == (T0 + 6 * DAY).replace(hour=8, minute=30)
    assert row.dedupe_key == f"stage_yellow:{opp}:{T0.astimezone(UTC).isoformat()}"
    assert [a.dedupe_key for a in stage_alerts(runtime.engine)] == [row.dedupe_key]


def milestone(engine, opportunity_id, *, due_on, amount=300_000):
    with session_scope(engine) as session:
        session.add(PaymentMilestone(opportunity_id=opportunity_id, label="首付款", due_on=due_on, amount=amount))


def pay_sweep(runtime, day, rules=None):
    at = datetime(day.year, day.month, day.day, 9, tzinfo=TZ)
    runtime.clock.set(at)
    with session_scope(runtime.engine) as session:
        return payments.run(session, at, rules or runtime.rules, TZ)


def next_due(engine):
    with Session(engine) as session:
        return session.exec(select(PaymentMilestone.next_due_at)).one()


def test_a_milestone_is_judged_at_its_reminder_then_at_its_due_date(runtime):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", stage="合同签署", at=T0)
    milestone(runtime.engine, opp, due_on=date(2026, 12, 31))  # reminders 15 days ahead
    assert pay_sweep(runtime, date(2026, 12, 2)) == 0
    assert next_due(runtime.engine) == datetime(2026, 12, 16, tzinfo=TZ)
    assert pay_sweep(runtime, date(2026, 12, 16)) == 1
    assert next_due(runtime.engine) == datetime(2027, 1, 1, tzinfo=TZ)
    assert pay_sweep(runtime, date(2026, 12, 20)) == 0
    assert pay_sweep(runtime, date(2027, 1, 1)) == 2  # the rep's notice and the manager's
    assert next_due(runtime.engine) is None
    with Session(runtime.engine) as session:
        keys = [a.dedupe_key for a in session.exec(select(Alert).order_by(Alert.id))]
        milestone_id = session.exec(select(PaymentMilestone.id)).one()
    assert keys == [f"payment_due:{milestone_id}", f"payment_overdue:{milestone_id}"]


def test_a_change_of_reminder_days_recomputes_every_milestone(runtime):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", stage="合同签署", at=T0)
    milestone(runtime.engine, opp, due_on=date(2026, 12, 31))
    assert pay_sweep(runtime, date(2026, 12, 2)) == 0
    month = dataclasses.replace(runtime.rules, payments=runtime.rules.payments.model_copy(
        update={"remind_days_before": 30}))
    assert pay_sweep(runtime, date(2026, 12, 2), month) == 1
    assert next_due(runtime.engine) == datetime(2027, 1, 1, tzinfo=TZ)


# --- a database upgraded from 0006 behaves as a fresh one ------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def old_db_url(request, tmp_path):
    """A database migrated to 0006 for real, before the change instants existed."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    admin = request.getfixturevalue("pg_admin")
    schema, url = _new_pg_schema(admin)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def _old_rows(engine):
    """What an 0006 database held: the org, three stalled deals (one already warned), a milestone due soon."""
    teams, users = orgfile.parse(DATA / "org.yaml")
    with session_scope(engine) as session:
        orgfile.apply(session, teams, users)
    with engine.begin() as conn:
        for n in (1, 2, 3):
            conn.execute(text("INSERT INTO customer (id, name, aliases, owner_id) VALUES (:n, :name, '[]', 'lilei')"),
                         {"n": n, "name": f"客户{n}"})
            conn.execute(text(
                "INSERT INTO opportunity (id, customer_id, owner_id, name, stage, stage_entered_at, last_update_at,"
                " status, decision_chain, evidence, tags) VALUES (:n, :n, 'lilei', '一期', :stage, :at, :at, :status,"
                " '[]', '{}', '[]')"),
                {"n": n, "at": T0.astimezone(UTC).replace(tzinfo=None), "stage": "方案演示",
                 "status": "lost" if n == 3 else "open"})
        conn.execute(text(
            "INSERT INTO alert (kind, level, dedupe_key, opportunity_id, customer_id, rep_id, manager_id, created_at)"
            " VALUES ('stage_yellow', 'warning', :key, 1, 1, 'lilei', 'zhangwei', :at)"),
            {"key": f"stage_yellow:1:{T0.astimezone(UTC).isoformat()}",
             "at": (T0 + 5 * DAY).astimezone(UTC).replace(tzinfo=None)})
        conn.execute(text("INSERT INTO paymentmilestone (opportunity_id, label, due_on, amount, received_amount,"
                          " receipt) VALUES (2, '首付款', :due, 100000, 0, '{}')"), {"due": date(2026, 12, 10)})


def test_a_database_upgraded_from_0006_ticks_like_a_fresh_one(old_db_url):
    engine = make_engine(old_db_url)
    migrate.upgrade(engine, "0006")
    _old_rows(engine)
    migrate.upgrade(engine)
    rules = load_rules()
    at = T0 + 5 * DAY + timedelta(hours=1)
    with session_scope(engine) as session:
        assert stage_lights.run(session, at, rules, TZ) == 1  # deal 2 only: deal 1 was warned, deal 3 is lost
        assert payments.run(session, at, rules, TZ) == 1
    with Session(engine) as session:
        lights = session.exec(select(Opportunity.id, Opportunity.light, Opportunity.light_changes_at)
                              .order_by(Opportunity.id)).all()
        assert lights == [(1, "yellow", T0 + 7 * DAY), (2, "yellow", T0 + 7 * DAY), (3, "green", None)]
        assert session.exec(select(PaymentMilestone.next_due_at)).one() == datetime(2026, 12, 11, tzinfo=TZ)
        assert [(a.kind, a.opportunity_id) for a in session.exec(select(Alert).order_by(Alert.id))] == [
            ("stage_yellow", 1), ("stage_yellow", 2), ("payment_due", 2)]
    with session_scope(engine) as session:
        assert stage_lights.run(session, T0 + 7 * DAY, rules, TZ) == 1  # both escalate: one digest to the manager
        assert stage_lights.run(session, T0 + 7 * DAY, rules, TZ) == 0
    engine.dispose()
