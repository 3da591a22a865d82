"""The manager's daily value digest: high-value reports pinned, the replacement metric, and the radar image."""

import base64
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from scheduler import reports as sweeps
from store.db import session_scope
from store.models import DailyReport, Opportunity, Outbox, SimMessage, StageChange
from tests.conftest import T0, TZ
from tests.test_reports import HUADONG, cards, seed_huadong, send, tap

EVENING = datetime(2026, 12, 1, 20, 0, tzinfo=TZ)
TODO = {"text": "发报价", "due": "2026-11-25", "customer": HUADONG}


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


@pytest.fixture
def team_day(runtime, client) -> None:
    """李雷 files today's report; two older ones feed the metric: with a todo (advanced in 7 days) and without."""
    customer = seed_huadong(runtime.engine, advanced_today=True)
    send(client, "华东医疗的王总(CIO)说价格有点高，竞品销售易在报价")
    send(client, "周五前给华东医疗发报价")
    tap(client, cards(send(client, "日报速记"))[-1], "确认提交")
    with Session(runtime.engine) as session:
        opp = session.exec(select(Opportunity).where(Opportunity.customer_id == customer)).one()
        session.add(DailyReport(rep_id="lilei", day=date(2026, 11, 21), customers=[HUADONG], todos=[TODO],
                                created_at=T0 - timedelta(days=10)))
        session.add(DailyReport(rep_id="lilei", day=date(2026, 11, 11), customers=[HUADONG], todos=[],
                                created_at=T0 - timedelta(days=20)))
        session.add(StageChange(opportunity_id=opp.id, from_stage="线索", to_stage="需求确认",
                                at=T0 - timedelta(days=8)))
        session.commit()


def test_manager_digest_pins_high_value_reports_and_shows_the_metric_once_a_day(runtime, client, team_day):
    with session_scope(runtime.engine) as session:
        assert sweeps.report_digest(session, EVENING, runtime.rules, TZ) == 2  # the card and the radar image
        assert sweeps.report_digest(session, EVENING + timedelta(minutes=30), runtime.rules, TZ) == 0
    with Session(runtime.engine) as session:
        rows = session.exec(select(Outbox).where(Outbox.dedupe_key.like("report_digest:%"))
                            .order_by(Outbox.id)).all()
    assert [(r.user_id, r.kind, r.dedupe_key) for r in rows] == [
        ("zhangwei", "card", "report_digest:zhangwei:2026-12-01"),
        ("zhangwei", "image", "report_digest:zhangwei:2026-12-01:radar")]  # 华北一组 filed nothing: no card
    card = rows[0].payload["card"]
    assert card["title"] == "📊 华东一组 · 日报价值雷达 · 12-01"
    assert card["lines"] == [
        f"📌 李雷 · 53 分 · 决策链更新、竞品动态、有效待办、阶段推进、客户反馈 · {HUADONG}",
        "李雷：含有效待办 100%（1/1） vs 无 0%（0/1）"]
    assert dict(card["fields"]) == {"提交": "1/1 人", "日报驱动客户进展": "含有效待办 100%（1/1） vs 无 0%（0/1）"}
    chart = rows[1].payload["chart"]
    assert chart == {"type": "radar", "title": "华东一组 日报价值雷达（2026-12-01）",
                     "labels": ["决策链更新", "竞品动态", "方案进展", "有效待办", "阶段推进", "客户反馈", "金额"],
                     "series": {"华东一组": [1, 1, 0, 1, 1, 1, 0]}}

    runtime.clock.set(EVENING)
    runtime.dispatcher.flush()
    with Session(runtime.engine) as session:
        image = session.get(Outbox, rows[1].id)
        shown = session.exec(select(SimMessage).where(SimMessage.user_id == "zhangwei",
                                                      SimMessage.kind == "image")).one()
    assert image.status == "sent" and base64.b64decode(image.payload["image_b64"]).startswith(b"\x89PNG")
    assert shown.payload["image_b64"] == image.payload["image_b64"]


def test_digest_after_quiet_hours_start_waits_for_the_morning(runtime, client, team_day):
    late = EVENING + timedelta(hours=2)  # 22:00
    with session_scope(runtime.engine) as session:
        assert sweeps.report_digest(session, late, runtime.rules, TZ) == 2
    with Session(runtime.engine) as session:
        due = {r.next_attempt_at for r in session.exec(select(Outbox).where(Outbox.dedupe_key.like("report_digest:%")))}
    assert due == {datetime(2026, 12, 2, 8, 30, tzinfo=TZ)}


def test_fast_forward_delivers_the_evening_digest_of_the_reports_filed_before_the_jump(runtime, client):
    seed_huadong(runtime.engine, advanced_today=False)
    send(client, "华东医疗的王总(CIO)说价格有点高，竞品销售易在报价")
    tap(client, cards(send(client, "日报速记"))[-1], "确认提交")
    leap = client.post("/sim/api/clock", json={"days": 1}).json()
    assert leap["now"].startswith("2026-12-02T10:00")
    assert "📊 华东一组 · 日报价值雷达 · 12-01" in [c["title"] for c in cards_of(runtime, "zhangwei")]


def cards_of(runtime, user: str) -> list[dict]:
    with Session(runtime.engine) as session:
        rows = session.exec(select(SimMessage).where(SimMessage.user_id == user).order_by(SimMessage.id)).all()
    return [m.payload["card"] for m in rows if "card" in m.payload]
