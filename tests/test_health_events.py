"""Health follows events: a valid touch or a report's customer feedback rescores the opportunity at once."""

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.events import Event
from scheduler import health
from store.db import session_scope
from store.models import Alert, FeedbackHit, HealthSnapshot, Opportunity, Outbox, SimMessage, Touch
from tests.conftest import T0, TZ
from tests.conversation import click, last_card, say
from tests.pipeline_helpers import customer_of, opportunity, touch
from tests.test_health_sweep import sweep

DAY = timedelta(days=1)
HUADONG = "华东医疗器械有限公司"


def snapshots(runtime, opp: int) -> list[int]:
    with Session(runtime.engine) as session:
        return [s.score for s in session.exec(
            select(HealthSnapshot).where(HealthSnapshot.opportunity_id == opp).order_by(HealthSnapshot.id)).all()]


def health_cards(runtime) -> list[dict]:
    """The 🩺 cards 李雷 has seen in the simulator (acks and replies are plain text)."""
    shown = [m.payload.get("card") for m in stored(runtime, SimMessage, user_id="lilei")]
    return [card for card in shown if card and card["title"].startswith("🩺")]


def stored(runtime, model, **where):
    with Session(runtime.engine) as session:
        stmt = select(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return list(session.exec(stmt).all())


@pytest.fixture
def red(runtime) -> int:
    """方案演示 idle for a week with two touches: warned at 22:00, the card held until quiet hours end (08:30)."""
    opp = opportunity(runtime.engine, customer=HUADONG, at=T0 - 7 * DAY)
    for hours in (50, 60):
        touch(runtime.engine, customer_id=customer_of(runtime.engine, opp), at=T0 - timedelta(hours=hours),
              kind="product_link")
    assert sweep(runtime, T0 - timedelta(hours=12)) == 1
    assert snapshots(runtime, opp) == [52]  # touches 14, files 0, feedback 20, dwell 18 (6 days idle)
    return opp


def pdf_event(runtime) -> Event:
    return Event(channel="local", msg_id=uuid.uuid4().hex, sender="lilei", kind="file",
                 filename="华东医疗器械有限公司方案.pdf", received_at=runtime.clock.now())


def test_a_valid_touch_lifts_a_red_opportunity_and_the_held_warning_never_arrives(runtime, red):
    runtime.clock.set(T0.replace(hour=8))
    event = pdf_event(runtime)
    runtime.inbox.ingest(event)
    runtime.work_once()
    assert snapshots(runtime, red) == [52, 66]  # touches 21, files 5, feedback 20, dwell 20 (the clock reset)
    [snapshot] = stored(runtime, HealthSnapshot, score=66)
    assert snapshot.at == T0.replace(hour=8) and snapshot.components == {"touches": 21, "files": 5, "feedback": 20,
                                                                         "dwell": 20}
    [opp] = stored(runtime, Opportunity, id=red)
    assert opp.health == 66
    [alert] = stored(runtime, Alert, kind="health_low")
    assert (alert.resolved_at, alert.resolved_by) == (T0.replace(hour=8), "system")

    runtime.inbox.ingest(event)  # the platform delivers the same message again
    runtime.work_once()
    with session_scope(runtime.engine) as session:
        assert health.recompute(session, red, T0.replace(hour=8), runtime.rules, TZ) == 0
    assert snapshots(runtime, red) == [52, 66] and len(stored(runtime, Touch, kind="pdf")) == 1

    runtime.clock.set(T0.replace(hour=8, minute=30))
    runtime.dispatcher.flush()
    assert health_cards(runtime) == []  # no stale warning once quiet hours end
    [held] = stored(runtime, Outbox, dedupe_key=alert.dedupe_key)
    assert held.status == "cancelled" and held.sent_at is None


@pytest.fixture
def health_off(settings):
    settings.modules.health = False


def test_without_the_health_module_a_touch_leaves_the_score_to_the_nightly_sweep(health_off, runtime, red):
    runtime.clock.set(T0.replace(hour=8))
    runtime.inbox.ingest(pdf_event(runtime))
    runtime.work_once()
    assert len(stored(runtime, Touch, kind="pdf")) == 1
    assert snapshots(runtime, red) == [52]
    [alert] = stored(runtime, Alert, kind="health_low")
    assert alert.resolved_at is None


def test_negative_feedback_in_a_confirmed_report_warns_at_once_and_the_sweep_does_not_repeat_it(runtime):
    opp = opportunity(runtime.engine, customer=HUADONG, at=T0 - timedelta(hours=3))
    for hours in (1, 2, 3):
        touch(runtime.engine, customer_id=customer_of(runtime.engine, opp), at=T0 - timedelta(hours=hours),
              kind="product_link")
    assert sweep(runtime, T0 - timedelta(minutes=30)) == 0
    assert snapshots(runtime, opp) == [61]  # touches 21, feedback 20, dwell 20
    runtime.clock.set(T0)
    with TestClient(create_app(runtime, start_workers=False)) as client:
        say(client, "华东医疗王总说价格有点高，还需要审批")
        draft = last_card(say(client, "日报速记"))
        assert "价格高「价格有点高」（负面）" in dict(draft["fields"])["反馈"]
        click(client, draft, "确认提交")
        again = last_card(say(client, "日报速记"))  # confirmed twice the same day: the feedback counts once
        click(client, again, "确认提交")
    assert sorted(h.keyword for h in stored(runtime, FeedbackHit)) == ["价格高", "需要审批"]
    assert snapshots(runtime, opp) == [61, 45]  # feedback 20 − 2 × 8
    [card] = health_cards(runtime)
    assert card["title"] == "🩺 商机健康度 45 分（低于 60）"
    assert "· 客户反馈：价格高、需要审批 · 4/30" in card["lines"]
    assert sweep(runtime, T0 + timedelta(hours=14)) == 0  # still low that night: the rep was told already
    assert len(stored(runtime, Alert, kind="health_low")) == 1
