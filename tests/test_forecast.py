import json
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.cli import main
from scheduler import forecast as sweeps
from store.db import session_scope
from store.models import Alert, Forecast, ForecastItem, Opportunity, Signal, SimMessage, StageChange, Touch
from tests.conftest import T0, TZ
from tests.pipeline_helpers import opportunity


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def late_stage(runtime, customer, *, stage="合同签署", amount=800_000, close=date(2026, 12, 20),
               entered_days_ago=2, owner="lilei"):
    """An open opportunity that entered `stage` that many days before T0 (a StageChange the bot can find)."""
    entered = T0 - timedelta(days=entered_days_ago)
    opp = opportunity(runtime.engine, customer=customer, stage=stage, at=entered, owner=owner)
    with session_scope(runtime.engine) as session:
        row = session.get(Opportunity, opp)
        row.amount, row.expected_close, row.created_at = amount, close, T0 - timedelta(days=30)
        session.add(StageChange(opportunity_id=opp, from_stage="商务谈判", to_stage=stage, at=entered))
    return opp


def send(client, text, user="lilei"):
    return client.post("/sim/api/send", json={"user": user, "text": text}).json()["messages"]


def last_card(messages):
    return next(m["payload"]["card"] for m in reversed(messages) if "card" in m["payload"])


def click(client, messages, label, user="lilei"):
    button = next(b for b in last_card(messages)["buttons"] if b["label"] == label)
    return client.post("/sim/api/click", json={"user": user, "key": button["key"]}).json()["messages"]


def cards(runtime, user):
    with Session(runtime.engine) as session:
        rows = session.exec(select(SimMessage).where(SimMessage.user_id == user).order_by(SimMessage.id)).all()
    return [m.payload["card"] for m in rows if "card" in m.payload]


def signals(runtime):
    with Session(runtime.engine) as session:
        return sorted((s.type, s.source, s.verified, s.reason) for s in session.exec(select(Signal)).all())


def commit(client, amount="按商机金额 80万元", close="12月20日"):
    """Answers category, amount and close for a single opportunity as 确定签约."""
    messages = click(client, send(client, "预测"), "确定签约")
    messages = click(client, messages, amount)
    return send(client, close)


def test_submission_with_a_rep_signal_and_a_system_found_one_is_not_at_risk(runtime, client):
    late_stage(runtime, "华东医疗器械有限公司")
    asked = commit(client)
    card = last_card(asked)
    assert card["title"] == "📈 2026-12 预测 · 华东医疗器械有限公司（1/1）"
    assert card["lines"][:2] == ["「确定签约」需至少 2 项可验证信号，请选择一项（已有 1 项）：",
                                 "已有：进入法务审核（阶段变更）"]
    evidence = click(client, asked, "POC完成")
    assert last_card(evidence)["lines"] == ["请提供「POC完成」的证据：发送链接、文件名或一句话说明（可接受：文件/链接/消息）。"]
    done = last_card(send(client, "POC报告见 https://docs.example.com/poc/42"))
    assert done["title"] == "✅ 2026-12 预测已提交"
    assert done["lines"] == ["· 华东医疗器械有限公司 · 确定签约 · 80万元 · 预计 2026-12-20 · 有效信号 2 项",
                             "确定签约合计 80万元，其中高风险 0 项"]
    assert signals(runtime) == [("legal_review", "system", True, None), ("poc_done", "rep", True, None)]
    with Session(runtime.engine) as session:
        poc = session.exec(select(Signal).where(Signal.type == "poc_done")).one()
        assert poc.evidence == {"kind": "link", "ref": "https://docs.example.com/poc/42"}
        forecast = session.exec(select(Forecast)).one()
        assert (forecast.rep_id, forecast.period, forecast.status) == ("lilei", "2026-12", "submitted")
    assert cards(runtime, "zhangwei")[-1]["title"] == "📈 李雷 提交了 2026-12 预测"


def test_stale_and_unverifiable_signals_leave_a_commit_at_high_risk_with_what_would_lift_it(runtime, client):
    late_stage(runtime, "华东医疗器械有限公司", entered_days_ago=20)  # 480 h: older than 进入法务审核's 336 h
    asked = commit(client)
    assert last_card(asked)["lines"][0] == "「确定签约」需至少 2 项可验证信号，请选择一项（已有 0 项）："
    asked = click(client, asked, "官网新闻提及合作")
    asked = send(client, "客户官网发了合作新闻")  # a message, where only a link verifies this signal
    asked = click(client, asked, "POC完成")
    asked = send(client, "POC测试报告.pdf")
    done = last_card(click(client, asked, "没有更多信号"))
    assert done["lines"][0] == ("· 华东医疗器械有限公司 · 确定签约 · 80万元 · 预计 2026-12-20 · 有效信号 1 项"
                                " · ⚠️高风险")
    assert "「华东医疗器械有限公司」进入法务审核不计入：证据已过期（超过 336 小时）" in done["lines"]
    assert "「华东医疗器械有限公司」官网新闻提及合作不计入：证据类型不符（需要：链接）" in done["lines"]
    assert ("「华东医疗器械有限公司」补充以下任一证据可解除高风险：进入法务审核（文件/消息）、IT对接需求（文件/消息）、"
            "招标参数删竞品（文件/链接）、官网新闻提及合作（链接）") in done["lines"]
    with Session(runtime.engine) as session:
        assert session.exec(select(ForecastItem)).one().risk == "高风险"
        alert = session.exec(select(Alert).where(Alert.kind == "forecast_high_risk")).one()
        assert (alert.rep_id, alert.manager_id) == ("lilei", "zhangwei")
    rollup = cards(runtime, "zhangwei")[-1]
    assert rollup["lines"][-1] == "确定签约合计 80万元，其中高风险 1 项"


def test_system_found_signals_count_without_rep_input(runtime, client):
    opp = late_stage(runtime, "华东医疗器械有限公司", entered_days_ago=1)
    with session_scope(runtime.engine) as session:
        customer = session.get(Opportunity, opp).customer_id
        session.add(Touch(customer_id=customer, opportunity_id=opp, rep_id="lilei", kind="pdf", valid=True,
                          at=T0 - timedelta(days=2), source="local", filename="方案v3.pdf"))
    done = last_card(commit(client))
    assert done["lines"][0] == "· 华东医疗器械有限公司 · 确定签约 · 80万元 · 预计 2026-12-20 · 有效信号 2 项"
    assert signals(runtime) == [("legal_review", "system", True, None), ("proposal_meeting", "system", True, None)]


def test_best_case_and_omitted_opportunities_need_no_signals(runtime, client):
    late_stage(runtime, "华东医疗器械有限公司", stage="商务谈判")
    late_stage(runtime, "北方银行", amount=None, close=None)
    first = last_card(send(client, "预测"))
    assert first["lines"][1:] == ["👉 · 华东医疗器械有限公司 · 商务谈判 · 800,000 元 · 预计 2026-12-20",
                                  "· 北方银行 · 合同签署 · 金额未填 · 预计 未定"]
    asked = click(client, send(client, "乐观"), "不计入")
    asked = send(client, "75万")
    done = last_card(click(client, asked, "2026-12-20"))
    assert done["lines"] == ["· 华东医疗器械有限公司 · 乐观 · 75万元 · 预计 2026-12-20 · 有效信号 0 项",
                             "· 北方银行 · 不计入 · — · 预计 — · 有效信号 0 项", "确定签约合计 0元，其中高风险 0 项"]


def test_prompt_on_the_25th_once_per_rep_then_the_card_opens_the_submission(runtime, client):
    late_stage(runtime, "华东医疗器械有限公司")
    at = datetime(2026, 12, 25, 10, tzinfo=TZ)
    runtime.clock.set(at)
    with session_scope(runtime.engine) as session:
        assert sweeps.prompts(session, at, runtime.rules, TZ) == 1
    with session_scope(runtime.engine) as session:
        assert sweeps.prompts(session, at, runtime.rules, TZ) == 0
    runtime.dispatcher.flush()
    prompt = cards(runtime, "lilei")[-1]
    assert prompt["title"] == "📈 2027-01 销售预测"
    assert prompt["lines"][1] == "· 华东医疗器械有限公司 · 合同签署 · 800,000 元 · 预计 2026-12-20"
    opened = client.post("/sim/api/click", json={"user": "lilei", "key": prompt["buttons"][0]["key"]}).json()
    assert last_card(opened["messages"])["title"] == "📈 2027-01 预测 · 华东医疗器械有限公司（1/1）"


def test_a_rep_without_late_stage_opportunities_is_told_so(runtime, client):
    assert send(client, "预测")[-1]["payload"]["text"] == "您目前没有处于「商务谈判/合同签署」阶段的进行中商机，本期无需填报预测。"


def test_export_forecasts_carries_signals_and_risk(runtime, client, tmp_path, db_url, capsys):
    late_stage(runtime, "华东医疗器械有限公司", entered_days_ago=20)
    click(client, commit(client), "没有更多信号")
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {db_url}\n", encoding="utf-8")
    assert main(["export", "forecasts", "--config", str(config)]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert {k: row[k] for k in ("rep", "period", "amount", "expected_close", "risk")} == {
        "rep": "lilei", "period": "2026-12", "amount": 800_000, "expected_close": "2026-12-20", "risk": "高风险"}
    assert row["signals"] == [{"type": "legal_review", "verified": False, "source": "system"}]


def test_a_high_risk_shows_the_same_in_chat_export_and_the_managers_dashboard(runtime, client, tmp_path, db_url,
                                                                              capsys):
    late_stage(runtime, "华东医疗器械有限公司", entered_days_ago=20)
    late_stage(runtime, "恒达精密机械有限公司", entered_days_ago=20)
    asked = send(client, "预测")
    for _ in range(12):  # both as 确定签约 at the deal's amount and date, with no more signals than the system found
        card = last_card(asked)
        if card["title"].startswith("✅"):
            break
        choices = [b["label"] for b in card["buttons"]]
        asked = click(client, asked, next(c for c in choices if c in ("确定签约", "2026-12-20", "没有更多信号")
                                          or c.startswith("按商机金额")))
    done = last_card(asked)
    assert "确定签约合计 160万元，其中高风险 2 项" in done["lines"]
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {db_url}\n", encoding="utf-8")
    assert main(["export", "forecasts", "--config", str(config)]) == 0
    assert [row["risk"] for row in json.loads(capsys.readouterr().out)] == ["高风险", "高风险"]
    page = runtime.signer.url("zhangwei", "home", T0).removeprefix(runtime.settings.server.public_url)
    board = client.get(page.replace("/dash/", "/dash/api/")).json()["forecast"]
    assert board["rows"] == [{"rep": "李雷", "commit": 1_600_000, "high_risk": 2}]
