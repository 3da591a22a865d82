from datetime import date, timedelta
from itertools import count

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.app import create_app
from handlers.forecast import expected_cycle
from rules.forecast import Cycle
from store.db import session_scope
from store.models import Customer, Opportunity, StageChange
from tests.conftest import T0

CHAIN = [{"name": "王强", "title": "院长", "role": "决策人"}, {"name": "李芳", "title": "设备科长", "role": "设备科"}]
DECIDER_ONLY = [{"name": "周总", "title": "总经理", "role": "决策人"}]
_names = count(1)


def won(runtime, *, cycle, industry="医疗", band="百万级", chain=CHAIN, closed_days_ago=60):
    closed = T0 - timedelta(days=closed_days_ago)
    with session_scope(runtime.engine) as session:
        customer = Customer(name=f"历史客户{next(_names)}", owner_id="lilei", created_at=closed)
        session.add(customer)
        session.flush()
        session.add(Opportunity(customer_id=customer.id, owner_id="lilei", name="项目", stage="赢单", status="won",
                                stage_entered_at=closed, last_update_at=closed, industry=industry, budget_band=band,
                                decision_chain=chain, amount=500_000, created_at=closed - timedelta(days=cycle),
                                closed_at=closed))


def current(runtime, *, elapsed=12, close_in=10):
    """An open 医疗/百万级 opportunity with the same chain, started `elapsed` days ago, in 合同签署 since yesterday."""
    with session_scope(runtime.engine) as session:
        customer = Customer(name="华东医疗器械有限公司", owner_id="lilei", created_at=T0)
        session.add(customer)
        session.flush()
        opp = Opportunity(customer_id=customer.id, owner_id="lilei", name="一期", stage="合同签署",
                          stage_entered_at=T0 - timedelta(days=1), last_update_at=T0, industry="医疗",
                          budget_band="百万级", decision_chain=CHAIN, amount=600_000,
                          expected_close=T0.date() + timedelta(days=close_in), created_at=T0 - timedelta(days=elapsed))
        session.add(opp)
        session.flush()
        session.add(StageChange(opportunity_id=opp.id, from_stage="商务谈判", to_stage="合同签署",
                                at=T0 - timedelta(days=1)))
        return opp.id


def cycle_of(runtime, opp_id):
    with Session(runtime.engine) as session:
        return expected_cycle(session, session.get(Opportunity, opp_id), runtime.rules, T0)


@pytest.fixture
def history(runtime):
    """Five exact matches (38, 40, 41, 42, 44 days) and deals that must not count as exact."""
    for days in (38, 40, 41, 42, 44):
        won(runtime, cycle=days)
    won(runtime, cycle=90, chain=DECIDER_ONLY)  # another decision-chain structure
    won(runtime, cycle=100, industry="教育")  # another industry
    won(runtime, cycle=5, closed_days_ago=3 * 365 + 30)  # older than the three-year window


def test_exact_matches_give_mean_spread_and_count(runtime, history):
    assert cycle_of(runtime, current(runtime)) == Cycle(mean=41, spread=2, n=5, exact=True)


def test_too_few_exact_matches_fall_back_to_the_nearest_by_distance(runtime):
    for days in (20, 22):
        won(runtime, cycle=days)  # distance 0
    won(runtime, cycle=30, band="千万级")  # one band apart: 1 × 1/3
    won(runtime, cycle=40, chain=DECIDER_ONLY)  # half the roles differ: 1 × 0.5
    won(runtime, cycle=60, industry="教育")  # another industry: 2
    won(runtime, cycle=90, industry="教育", band="亿级", chain=[{"name": "赵", "title": "校长", "role": "分管校长"}])
    assert cycle_of(runtime, current(runtime)) == Cycle(mean=34, spread=15, n=5, exact=False)


def test_no_history_gives_no_cycle(runtime):
    assert cycle_of(runtime, current(runtime)) is None


def test_a_close_within_15_days_is_answered_with_the_history_and_elapsed_days(runtime, history):
    current(runtime)
    with TestClient(create_app(runtime, start_workers=False)) as client:
        def say(text):
            return client.post("/sim/api/send", json={"user": "lilei", "text": text}).json()["messages"]

        def press(messages, label):
            card = next(m["payload"]["card"] for m in reversed(messages) if "card" in m["payload"])
            key = next(b["key"] for b in card["buttons"] if b["label"] == label)
            return client.post("/sim/api/click", json={"user": "lilei", "key": key}).json()["messages"]

        asked = press(press(say("预测"), "确定签约"), "按商机金额 60万元")
        asked = press(say((T0.date() + timedelta(days=10)).isoformat()), "没有更多信号")
    saved = next(m["payload"]["card"] for m in reversed(asked) if "card" in m["payload"])
    assert "「华东医疗器械有限公司」同行业同预算同决策链5个成交案例平均签约周期 41±2 天，本商机已进行 12 天" in saved["lines"]


def test_a_forecast_that_fits_the_history_earns_the_history_cycle_signal(runtime, history):
    current(runtime, elapsed=30, close_in=10)  # 30 + 10 = 40 days, within 41 ± 2
    with TestClient(create_app(runtime, start_workers=False)) as client:
        client.post("/sim/api/send", json={"user": "lilei", "text": "预测"})
        client.post("/sim/api/send", json={"user": "lilei", "text": "确定签约"})
        client.post("/sim/api/send", json={"user": "lilei", "text": "60万"})
        messages = client.post("/sim/api/send", json={"user": "lilei",
                                                       "text": str(date(2026, 12, 11))}).json()["messages"]
    saved = messages[-1]["payload"]["card"]
    assert saved["lines"][0] == "· 华东医疗器械有限公司 · 确定签约 · 60万元 · 预计 2026-12-11 · 有效信号 2 项"
