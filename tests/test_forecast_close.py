from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from handlers.forecast import board_figures
from rules.forecast import Figures
from scheduler import forecast as sweeps
from store.db import session_scope
from store.models import Alert, CompanyEvent, Forecast, ForecastItem, Opportunity, Signal, SimMessage, User
from tests.conftest import T0, TZ
from tests.pipeline_helpers import opportunity

NOV_SUBMIT = datetime(2026, 10, 26, 10, tzinfo=TZ)


def deal(runtime, customer, *, owner="lilei", amount, won_on=None, stage="商务谈判", close=None):
    """An opportunity; with `won_on`, won that day."""
    opp = opportunity(runtime.engine, customer=customer, owner=owner, stage=stage, at=NOV_SUBMIT - timedelta(days=20))
    with session_scope(runtime.engine) as session:
        row = session.get(Opportunity, opp)
        row.amount, row.expected_close = amount, close
        if won_on:
            row.status, row.stage = "won", "赢单"
            row.closed_at = datetime.combine(won_on, datetime.min.time(), TZ) + timedelta(hours=15)
    return opp


def forecast(runtime, rep, period, items, *, status="closed", submitted=NOV_SUBMIT):
    """items: (opportunity, amount, expected close, [(signal type, verified, observed_at)])."""
    with session_scope(runtime.engine) as session:
        head = Forecast(rep_id=rep, period=period, status=status, submitted_at=submitted)
        session.add(head)
        session.flush()
        for opp, amount, close, signals in items:
            item = ForecastItem(forecast_id=head.id, opportunity_id=opp, category="commit", amount=amount,
                                expected_close=close, risk="高风险" if sum(v for _, v, _ in signals) < 2 else None)
            session.add(item)
            session.flush()
            session.add_all([Signal(opportunity_id=opp, forecast_item_id=item.id, type=kind, source="rep",
                                    observed_at=at, verified=ok) for kind, ok, at in signals])
        return head.id


def close(runtime, at):
    runtime.clock.set(at)
    with session_scope(runtime.engine) as session:
        written = sweeps.close(session, at, runtime.rules, TZ)
    runtime.dispatcher.flush()
    return written


def cards(runtime, user):
    with Session(runtime.engine) as session:
        rows = session.exec(select(SimMessage).where(SimMessage.user_id == user).order_by(SimMessage.id)).all()
    return [m.payload["card"] for m in rows if "card" in m.payload]


def november(runtime, won_amount):
    """lilei committed 100万 for November: 60万 from A (won, for `won_amount`) and 40万 from B, which slipped."""
    a = deal(runtime, "华东医疗器械有限公司", amount=won_amount, won_on=date(2026, 11, 20))
    b = deal(runtime, "北方银行", amount=400_000, close=date(2026, 12, 15))
    with session_scope(runtime.engine) as session:
        session.add(CompanyEvent(customer_id=session.get(Opportunity, b).customer_id, external_id="x1",
                                 kind="高管变动", title="CFO离职", occurred_at=datetime(2026, 11, 10, tzinfo=TZ)))
    valid = [("poc_done", True, NOV_SUBMIT), ("legal_review", True, NOV_SUBMIT)]
    forecast(runtime, "lilei", "2026-11", [(a, 600_000, date(2026, 11, 20), valid),
                                           (b, 400_000, date(2026, 11, 25), valid[:1])], status="submitted")


def test_a_deviation_over_25_percent_sends_the_root_cause_report_to_rep_and_manager(runtime):
    november(runtime, won_amount=700_000)  # actual 70万 against 100万: 30% off
    assert close(runtime, T0) == 2
    report = cards(runtime, "lilei")[-1]
    assert report["title"] == "📉 《偏差根因报告》· 李雷 · 2026-11"
    assert report["lines"] == [
        "预测（确定签约）100万元，实际成交 70万元，偏差 30%（阈值 25%）。",
        "【信号缺失分析】", "信号缺失：「北方银行」确定签约但只有 1 项有效信号",
        "【阶段判断失误点】", "阶段判断失误：「北方银行」提交时在「商务谈判」，期末仍未进入「合同签署」",
        "【客户动态漏报项】", "客户动态漏报：「北方银行」11-10 高管变动：CFO离职",
        "【滑单及原因】", "滑单：「北方银行」原预计 2026-11-25 签约，预计签约日已推迟到 2026-12-15",
    ]
    assert [b["label"] for b in report["buttons"]] == ["已复盘"]
    assert cards(runtime, "zhangwei")[-1]["lines"] == report["lines"]
    assert close(runtime, T0) == 0
    with Session(runtime.engine) as session:
        assert session.exec(select(Forecast)).one().status == "closed"


def test_a_deviation_of_20_percent_sends_no_report(runtime):
    november(runtime, won_amount=800_000)
    assert close(runtime, T0) == 0
    assert cards(runtime, "lilei") == []
    with Session(runtime.engine) as session:
        assert session.exec(select(Forecast)).one().status == "closed"
        assert session.exec(select(Alert)).all() == []


def test_an_open_period_is_not_closed(runtime):
    november(runtime, won_amount=100_000)
    assert close(runtime, datetime(2026, 11, 30, 23, tzinfo=TZ)) == 0


def test_the_retrospective_is_relisted_to_the_manager_until_the_rep_acknowledges_it(runtime):
    november(runtime, won_amount=700_000)
    close(runtime, T0)
    assert close(runtime, T0 + timedelta(days=1)) == 1
    assert cards(runtime, "zhangwei")[-1]["lines"] == ["李雷 的 2026-11 预测偏差复盘尚未确认（报告已于 12-01 发出）。"]
    report = next(c for c in reversed(cards(runtime, "lilei")) if c["buttons"])
    with TestClient(create_app(runtime, start_workers=False)) as client:
        done = client.post("/sim/api/click", json={"user": "lilei", "key": report["buttons"][0]["key"]}).json()
    assert done["messages"][-1]["payload"]["text"] == "✅ 已确认复盘，复盘任务已关闭。"
    assert close(runtime, T0 + timedelta(days=2)) == 0
    with Session(runtime.engine) as session:
        alert = session.exec(select(Alert).where(Alert.kind == "forecast_deviation")).one()
        assert alert.resolved_by == "lilei"


@pytest.fixture
def board_history(runtime):
    """lilei: closed Jun, Sep, Oct, Nov with known accuracy; December's forecast with signals; hanmeimei: Nov only."""
    for period, planned, actual in (("2026-06", 100, 160), ("2026-09", 200, 100), ("2026-10", 100, 100),
                                    ("2026-11", 100, 70)):
        year, month = map(int, period.split("-"))
        won = deal(runtime, f"成交{period}", amount=actual * 10_000, won_on=date(year, month, 10))
        forecast(runtime, "lilei", period, [(won, planned * 10_000, date(year, month, 10), [])])
    won = deal(runtime, "华北成交", owner="hanmeimei", amount=900_000, won_on=date(2026, 11, 10))
    forecast(runtime, "hanmeimei", "2026-11", [(won, 1_000_000, date(2026, 11, 10), [])])
    a = deal(runtime, "甲客户", amount=600_000)
    b = deal(runtime, "乙客户", amount=400_000)
    hours = timedelta(hours=1)
    forecast(runtime, "lilei", "2026-12", [
        (a, 600_000, date(2026, 12, 20), [("poc_done", True, T0 - 24 * hours), ("legal_review", True, T0 - 120 * hours)]),
        (b, 400_000, date(2026, 12, 22), [("poc_done", True, T0 - 48 * hours), ("it_integration", False, T0 - 240 * hours)]),
    ], status="submitted", submitted=T0)


def test_health_board_figures_by_rep_team_and_region(runtime, board_history):
    with Session(runtime.engine) as session:
        rows = board_figures(session, T0, runtime.rules, TZ, session.get(User, "boss"))
    lilei = Figures(backed=0.6, fresh=0.5, accuracy_3=pytest.approx((0.7 + 1.0 + 0.5) / 3),
                    accuracy_6=pytest.approx((0.7 + 1.0 + 0.5 + 0.4) / 4))
    han = Figures(backed=None, fresh=None, accuracy_3=pytest.approx(0.9), accuracy_6=pytest.approx(0.9))
    assert rows == [("rep", "李雷", lilei), ("rep", "韩梅梅", han), ("team", "华东一组", lilei),
                    ("team", "华北一组", han), ("region", "华东", lilei), ("region", "华北", han)]


def test_manager_board_card_shows_only_their_team(runtime, board_history):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        messages = client.post("/sim/api/send", json={"user": "zhangwei", "text": "预测看板"}).json()["messages"]
    card = messages[-1]["payload"]["card"]
    assert card["title"] == "📊 预测健康度看板 · 2026-12"
    assert card["lines"] == ["维度 · 名称：信号支撑占比 / 72小时内更新率 / 近3月准确率 / 近6月准确率",
                             "销售 · 李雷：60% / 50% / 73% / 65%", "团队 · 华东一组：60% / 50% / 73% / 65%",
                             "区域 · 华东：60% / 50% / 73% / 65%"]
