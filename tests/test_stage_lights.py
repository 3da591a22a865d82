from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.cli import main
from scheduler import stage_lights
from store.db import session_scope
from store.models import Alert, Opportunity, Outbox, SimMessage
from tests.conftest import T0, TZ
from tests.pipeline_helpers import opportunity

DAY = timedelta(days=1)


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def sweep(runtime, at):
    """Runs the sweep as of `at` and delivers what is due then, like the scheduler at that instant."""
    runtime.clock.set(at)
    with session_scope(runtime.engine) as session:
        written = stage_lights.run(session, at, runtime.rules, TZ)
    runtime.dispatcher.flush()
    return written


def cards_for(runtime, user):
    with Session(runtime.engine) as session:
        rows = session.exec(select(SimMessage).where(SimMessage.user_id == user, SimMessage.kind == "card")
                            .order_by(SimMessage.id)).all()
    return rows


def alerts(runtime):
    with Session(runtime.engine) as session:
        return session.exec(select(Alert).order_by(Alert.id)).all()


def click(client, user, message, label):
    [button] = [b for b in message.payload["card"]["buttons"] if b["label"] == label]
    return client.post("/sim/api/click", json={"user": user, "key": button["key"], "card_ref": str(message.id)})


def test_yellow_on_day_5_escalation_on_day_7_then_manager_follows_up(runtime, client):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    assert sweep(runtime, T0 + 4 * DAY) == 0
    assert sweep(runtime, T0 + 5 * DAY) == 1
    [yellow] = cards_for(runtime, "lilei")
    card = yellow.payload["card"]
    assert card["title"] == "🟡 商机停滞提醒"
    assert "已在「方案演示」阶段 5 天没有更新" in card["lines"][0]
    assert [b["label"] for b in card["buttons"]] == ["更新进展", "推进阶段", "申请延期"]
    assert sweep(runtime, T0 + 5 * DAY + timedelta(hours=5)) == 0  # same state, nothing new
    assert sweep(runtime, T0 + 6 * DAY) == 0

    assert sweep(runtime, T0 + 7 * DAY) == 1
    assert cards_for(runtime, "lilei") == [yellow]
    [escalation] = cards_for(runtime, "zhangwei")
    assert escalation.payload["card"]["title"] == "🔴 商机升级：需要主管跟进"
    assert "李雷 的「华东医疗器械有限公司」" in escalation.payload["card"]["lines"][0]
    label, url = escalation.payload["card"]["link"]
    assert label == "打开团队看板" and yellow.payload["card"]["link"] is None
    team_page = client.get(url.removeprefix(runtime.settings.server.public_url.rstrip("/")).replace("/dash/home",
                                                                                                    "/dash/api/home"))
    assert team_page.status_code == 200 and team_page.json()["viewer"]["id"] == "zhangwei"
    assert sweep(runtime, T0 + 8 * DAY) == 0
    assert [(a.kind, a.rep_id, a.manager_id, a.resolved_at) for a in alerts(runtime)] == [
        ("stage_yellow", "lilei", "zhangwei", None), ("stage_escalated", "lilei", "zhangwei", None)]

    messages = click(client, "zhangwei", escalation, "已跟进").json()["messages"]
    assert all(a.resolved_at is not None and a.resolved_by == "zhangwei" for a in alerts(runtime))
    with Session(runtime.engine) as session:
        answered = session.get(SimMessage, escalation.id)
        told = session.exec(select(SimMessage).where(SimMessage.user_id == "lilei", SimMessage.kind == "text")).all()
    assert answered.payload["card"]["title"] == "✅ 已跟进（张伟）" and answered.payload["card"]["buttons"] == []
    assert [m.payload["text"] for m in told] == ["主管 张伟 已跟进「华东医疗器械有限公司」的升级提醒。"]
    assert messages == []  # the manager's own chat only shows the card turning answered
    assert opp


def test_update_on_day_4_keeps_the_light_green(runtime, client):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    with session_scope(runtime.engine) as session:
        from store.opportunities import record_update

        record_update(session, session.get(Opportunity, opp), at=T0 + 4 * DAY, by="lilei")
    assert sweep(runtime, T0 + 5 * DAY) == 0
    assert sweep(runtime, T0 + 8 * DAY) == 0
    assert sweep(runtime, T0 + 9 * DAY) == 1
    assert [a.kind for a in alerts(runtime)] == ["stage_yellow"]


def test_rep_answers_update_progress_and_the_warning_closes(runtime, client):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    sweep(runtime, T0 + 5 * DAY)
    [yellow] = cards_for(runtime, "lilei")
    asked = click(client, "lilei", yellow, "更新进展").json()["messages"]
    assert asked[-1]["payload"]["text"].startswith("请直接回复「华东医疗器械有限公司」的最新进展")
    done = client.post("/sim/api/send", json={"user": "lilei", "text": "客户已安排下周POC"}).json()["messages"]
    assert done[-1]["payload"]["text"] == "已记录「华东医疗器械有限公司」的进展，红绿灯已恢复绿灯。"
    [alert] = alerts(runtime)
    assert alert.resolved_by == "lilei"
    assert sweep(runtime, T0 + 7 * DAY) == 0  # the update reset the clock: no escalation
    assert sweep(runtime, T0 + 10 * DAY) == 1


def test_extension_request_goes_to_the_manager_and_approval_resets_the_clock(runtime, client):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    sweep(runtime, T0 + 5 * DAY)
    [yellow] = cards_for(runtime, "lilei")
    sent = click(client, "lilei", yellow, "申请延期").json()["messages"]
    assert sent[-1]["payload"]["text"] == "已向主管 张伟 提交延期申请。"
    [request] = cards_for(runtime, "zhangwei")
    assert "李雷 申请「华东医疗器械有限公司」" in request.payload["card"]["lines"][0]
    click(client, "zhangwei", request, "同意延期")
    assert alerts(runtime)[0].resolved_at is not None
    assert sweep(runtime, T0 + 7 * DAY) == 0


def test_a_rep_cannot_press_the_managers_button(runtime, client):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    sweep(runtime, T0 + 7 * DAY)
    [escalation] = cards_for(runtime, "zhangwei")
    refused = click(client, "lilei", escalation, "已跟进").json()["messages"]
    assert refused[-1]["payload"]["text"] == "这张卡片不是发给您的，无法操作。"
    assert all(a.resolved_at is None for a in alerts(runtime))


def test_quiet_hours_hold_pushes_until_08_30(runtime):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    late = (T0 + 5 * DAY).replace(hour=22)
    assert sweep(runtime, late) == 1
    assert cards_for(runtime, "lilei") == []
    with Session(runtime.engine) as session:
        row = session.exec(select(Outbox)).one()
    assert row.next_attempt_at.astimezone(TZ) == (T0 + 6 * DAY).replace(hour=8, minute=30)
    runtime.clock.set((T0 + 6 * DAY).replace(hour=8, minute=30))
    runtime.dispatcher.flush()
    assert len(cards_for(runtime, "lilei")) == 1


def test_five_due_items_become_one_digest_card_that_expands(runtime, client):
    for n in range(5):
        opportunity(runtime.engine, customer=f"客户{n}有限公司", at=T0)
    assert sweep(runtime, T0 + 5 * DAY) == 1
    [digest] = cards_for(runtime, "lilei")
    card = digest.payload["card"]
    assert card["title"] == "商机红绿灯提醒（5 条）"
    assert card["lines"] == [f"🟡 客户{n}有限公司 · 方案演示 · 5 天未更新" for n in range(5)]
    click(client, "lilei", digest, "逐条处理")
    expanded = cards_for(runtime, "lilei")[1:]
    assert [c.payload["card"]["title"] for c in expanded] == ["🟡 商机停滞提醒"] * 5
    assert sweep(runtime, T0 + 5 * DAY + timedelta(hours=1)) == 0


def test_won_deals_and_stages_without_thresholds_never_light_up(runtime):
    opportunity(runtime.engine, customer="已赢客户", stage="赢单", at=T0)
    lost = opportunity(runtime.engine, customer="已关闭客户", at=T0)
    with session_scope(runtime.engine) as session:
        session.get(Opportunity, lost).status = "lost"
    assert sweep(runtime, T0 + 30 * DAY) == 0


def test_jobs_cli_lists_and_runs_the_sweep(runtime, tmp_path, capsys, db_url):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {db_url}\n", encoding="utf-8")
    assert main(["jobs", "list", "--config", str(config)]) == 0
    assert "stage_lights\tstage_lights\t0 9,14 * * *\t" in capsys.readouterr().out
    at = (T0 + 5 * DAY).isoformat()
    assert main(["jobs", "run", "stage_lights", "--at", at, "--config", str(config)]) == 0
    assert main(["jobs", "run", "stage_lights", "--at", at, "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("写入 1 条。") and out[1].endswith("写入 0 条。")
    config.write_text(f"database:\n  url: {db_url}\nmodules:\n  stage_lights: false\n", encoding="utf-8")
    assert main(["jobs", "run", "stage_lights", "--at", at, "--config", str(config)]) == 2
    assert "未启用" in capsys.readouterr().err


def test_fast_forward_in_the_simulator_runs_the_sweeps_day_by_day(runtime, client):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    answer = client.post("/sim/api/clock", json={"days": 7}).json()
    assert answer["now"].startswith("2026-12-08T10:00")
    titles = [c.payload["card"]["title"] for c in cards_for(runtime, "lilei")]
    assert titles.count("🟡 商机停滞提醒") == 1 and "🩺 商机健康度 40 分（低于 60）" in titles
    assert [c.payload["card"]["title"] for c in cards_for(runtime, "zhangwei")].count("🔴 商机升级：需要主管跟进") == 1
    assert answer["pushed"] == len(titles) + len(cards_for(runtime, "zhangwei")) + len(cards_for(runtime, "liuyang")) \
        + len(cards_for(runtime, "hanmeimei"))
    assert client.post("/sim/api/clock", json={"days": 0}).status_code == 422


def test_advance_on_a_yellow_card_starts_the_real_dialog_and_the_advance_settles_the_light(runtime, client):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    sweep(runtime, T0 + 5 * DAY)
    [yellow] = cards_for(runtime, "lilei")
    click(client, "lilei", yellow, "推进阶段")
    with Session(runtime.engine) as session:
        yellow = session.get(SimMessage, yellow.id)  # redrawn in place: its other buttons stay usable
    assert [b["label"] for b in yellow.payload["card"]["buttons"]] == ["更新进展", "申请延期"]
    asked = click(client, "lilei", yellow, "更新进展").json()["messages"][-1]["payload"]["text"]
    assert asked == "请直接回复「华东医疗器械有限公司」的最新进展（一句话即可），发送「取消」放弃。"
    client.post("/sim/api/send", json={"user": "lilei", "text": "取消"})
    choice = [c for c in cards_for(runtime, "lilei") if c.payload["card"]["title"].startswith("推进「")][-1]
    assert choice.payload["card"]["title"] == "推进「华东医疗器械有限公司」"
    assert [b["label"] for b in choice.payload["card"]["buttons"]] == ["商务谈判", "合同签署", "赢单", "输单"]
    click(client, "lilei", choice, "商务谈判")
    asked = cards_for(runtime, "lilei")[-1].payload["card"]
    assert asked["title"] == "推进到「商务谈判」· 商机金额"  # the stage's gated field, then the behavior
    client.post("/sim/api/send", json={"user": "lilei", "text": "80万"})
    client.post("/sim/api/send", json={"user": "lilei", "text": "商务谈判"})
    with Session(runtime.engine) as session:
        row = session.get(Opportunity, opp)
        assert (row.stage, row.amount) == ("商务谈判", 800_000)
    assert sweep(runtime, T0 + 6 * DAY) == 0 and all(a.resolved_at for a in alerts(runtime))
