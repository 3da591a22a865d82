import json
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.cli import main
from scheduler import payments
from store import dialogs
from store.db import session_scope
from store.models import Alert, CommissionHold, Opportunity, PaymentMilestone, SimMessage
from tests.conftest import T0, TZ
from tests.pipeline_helpers import opportunity


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def signed(runtime, amount=1_000_000):
    """An opportunity that just entered 合同签署, with the bot waiting for its payment plan."""
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", stage="合同签署", at=T0)
    with session_scope(runtime.engine) as session:
        session.get(Opportunity, opp).amount = amount
        dialogs.start(session, user_id="lilei", flow="payments_plan", step="plan", data={"opportunity": opp}, now=T0)
    return opp


def milestones(runtime):
    with Session(runtime.engine) as session:
        return [(m.label, m.due_on, m.amount, m.received_amount)
                for m in session.exec(select(PaymentMilestone).order_by(PaymentMilestone.id)).all()]


def sweep(runtime, day: date, hour=9):
    at = datetime(day.year, day.month, day.day, hour, tzinfo=TZ)
    runtime.clock.set(at)
    with session_scope(runtime.engine) as session:
        written = payments.run(session, at, runtime.rules, TZ)
    runtime.dispatcher.flush()
    return written


def chat(runtime, user):
    with Session(runtime.engine) as session:
        rows = session.exec(select(SimMessage).where(SimMessage.user_id == user).order_by(SimMessage.id)).all()
    return [m.payload.get("card", {}).get("title") or m.payload.get("text") for m in rows]


def commission(runtime, tmp_path, db_url, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {db_url}\n", encoding="utf-8")
    assert main(["export", "commission", "--config", str(config)]) == 0
    return json.loads(capsys.readouterr().out)


def test_payment_plan_from_one_sentence(runtime, client):
    signed(runtime)
    reply = client.post("/sim/api/send", json={"user": "lilei", "text": "首付30% 12月15日，尾款70% 明年3月1日"})
    card = reply.json()["messages"][-1]["payload"]["card"]
    assert card["title"] == "✅ 付款节点已登记"
    assert card["lines"] == ["· 首付款 30万元 · 2026-12-15 到期", "· 尾款 70万元 · 2027-03-01 到期"]
    assert milestones(runtime) == [("首付款", date(2026, 12, 15), 300_000, 0), ("尾款", date(2027, 3, 1), 700_000, 0)]


def test_plan_asks_for_the_contract_amount_when_given_in_percent(runtime, client):
    signed(runtime, amount=None)
    asked = client.post("/sim/api/send", json={"user": "lilei", "text": "首付30% 12月15日，尾款70% 明年3月1日"})
    assert asked.json()["messages"][-1]["payload"]["text"] == "付款节点按比例填写，请先回复合同总金额（如 80万）。"
    client.post("/sim/api/send", json={"user": "lilei", "text": "200万"})
    assert [m[2] for m in milestones(runtime)] == [600_000, 1_400_000]


def test_bad_plans_are_refused_and_nothing_is_saved(runtime, client):
    signed(runtime)
    unclear = client.post("/sim/api/send", json={"user": "lilei", "text": "下次再说"}).json()["messages"][-1]
    assert unclear["payload"]["text"].startswith("没看懂付款节点")
    wrong = client.post("/sim/api/send", json={"user": "lilei", "text": "首付30% 12月15日，尾款60% 明年3月1日"})
    assert wrong.json()["messages"][-1]["payload"]["text"] == "各期比例加起来是 90%，应为 100%。请重新回复付款节点。"
    assert milestones(runtime) == []


def test_reminder_at_t_minus_15_hold_at_t_plus_1_release_on_receipt(runtime, client, tmp_path, db_url, capsys):
    signed(runtime)
    client.post("/sim/api/send", json={"user": "lilei", "text": "首付30% 12月20日，尾款70% 明年3月1日"})
    assert sweep(runtime, date(2026, 12, 4)) == 0  # T-16
    assert sweep(runtime, date(2026, 12, 5)) == 1  # T-15
    assert chat(runtime, "lilei")[-1] == "💰 回款提醒"
    assert sweep(runtime, date(2026, 12, 6)) == 0
    assert sweep(runtime, date(2026, 12, 20)) == 0  # due today: not yet overdue
    assert sweep(runtime, date(2026, 12, 21)) == 2  # T+1: the rep and the manager
    assert chat(runtime, "lilei")[-1] == "⛔ 回款逾期：提成已暂扣"
    assert chat(runtime, "zhangwei")[-1] == "⛔ 回款逾期：提成已暂扣"
    assert sweep(runtime, date(2026, 12, 22)) == 0
    [row] = commission(runtime, tmp_path, db_url, capsys)
    assert row == {"id": "lilei:2026-12", "rep": "lilei", "period": "2026-12", "payments_amount": 0,
                   "commission_amount": 0, "points": 0, "held": True,
                   "hold_reasons": ["「华东医疗器械有限公司」首付款 12-20 到期未回款"]}

    with Session(runtime.engine) as session:
        overdue = session.exec(select(SimMessage).where(SimMessage.user_id == "lilei")
                               .order_by(SimMessage.id.desc())).first()
    [button] = overdue.payload["card"]["buttons"]
    asked = client.post("/sim/api/click", json={"user": "lilei", "key": button["key"]}).json()["messages"]
    assert asked[-1]["payload"]["text"] == "请回复「华东医疗器械有限公司」本次回款金额（如 30万），发送「取消」放弃。"
    told = len(chat(runtime, "zhangwei"))
    done = client.post("/sim/api/send", json={"user": "lilei", "text": "30万"}).json()["messages"]
    assert done[-1]["payload"]["text"] == "已录入「华东医疗器械有限公司」回款 30万元。首付款 已结清。因逾期暂扣的提成已解除。"
    runtime.dispatcher.flush()
    assert chat(runtime, "zhangwei")[-1] == "✅ 回款已到，提成暂扣已解除"
    assert len(chat(runtime, "zhangwei")) == told  # the hold card itself was redrawn, not a second one sent
    with Session(runtime.engine) as session:
        assert session.exec(select(CommissionHold)).one().released_at is not None
        assert all(a.resolved_at for a in session.exec(select(Alert)).all())
    [row] = commission(runtime, tmp_path, db_url, capsys)
    assert (row["payments_amount"], row["commission_amount"], row["held"]) == (300_000, 9_000, False)


def test_pushes_held_for_the_night_are_taken_back_when_the_money_arrives(runtime, client):
    """Overdue at 22:00 (quiet hours): the cards wait for 08:30; paid at 22:30, neither the rep nor the manager is
    told in the morning of a hold already lifted, and the manager gets no release for a hold never shown."""
    signed(runtime)
    client.post("/sim/api/send", json={"user": "lilei", "text": "首付30% 12月20日，尾款70% 明年3月1日"})
    assert sweep(runtime, date(2026, 12, 21), hour=22) == 2
    assert chat(runtime, "zhangwei") == [] and chat(runtime, "lilei")[-1] == "✅ 付款节点已登记"
    runtime.clock.set(datetime(2026, 12, 21, 22, 30, tzinfo=TZ))
    done = client.post("/sim/api/send", json={"user": "lilei", "text": "回款 华东医疗器械 30万"}).json()["messages"]
    assert done[-1]["payload"]["text"].endswith("因逾期暂扣的提成已解除。")
    runtime.clock.set(datetime(2026, 12, 22, 9, 0, tzinfo=TZ))
    runtime.dispatcher.flush()
    assert chat(runtime, "zhangwei") == []
    assert "⛔ 回款逾期：提成已暂扣" not in chat(runtime, "lilei")
    with Session(runtime.engine) as session:
        assert session.exec(select(CommissionHold)).one().released_at is not None


def test_unclear_amount_is_asked_again(runtime, client):
    opp = signed(runtime)
    with session_scope(runtime.engine) as session:
        dialogs.start(session, user_id="lilei", flow="payments_record", step="amount", data={"opportunity": opp},
                      now=T0)
    reply = client.post("/sim/api/send", json={"user": "lilei", "text": "很多钱"}).json()["messages"][-1]
    assert reply["payload"]["text"] == "没看懂金额，请回复如「30万」「120000元」，或发送「取消」。"


def test_payment_by_chat_command_settles_the_milestone(runtime, client):
    signed(runtime)
    client.post("/sim/api/send", json={"user": "lilei", "text": "首付30% 12月15日，尾款70% 明年3月1日"})
    reply = client.post("/sim/api/send", json={"user": "lilei", "text": "回款 华东医疗 30万"}).json()["messages"][-1]
    assert reply["payload"]["text"] == "已录入「华东医疗器械有限公司」回款 30万元。首付款 已结清。"  # there was no hold
    assert [m[3] for m in milestones(runtime)] == [300_000, 0]
    assert "✅ 回款已到，提成暂扣已解除" not in chat(runtime, "zhangwei")
    bad = client.post("/sim/api/send", json={"user": "lilei", "text": "回款 华东医疗"}).json()["messages"][-1]
    assert bad["payload"]["text"] == "请按「回款 <客户> <金额>」发送，如「回款 华东医疗 30万」。"
    other = client.post("/sim/api/send", json={"user": "hanmeimei", "text": "回款 华东医疗 30万"}).json()["messages"]
    unknown = other[-1]["payload"]["card"]  # another team's customer: answered as if it did not exist
    assert (unknown["title"], [b["label"] for b in unknown["buttons"]]) == ("没有找到「华东医疗」", ["新建线索", "都不是"])
