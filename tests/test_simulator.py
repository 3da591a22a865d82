from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import demo
from bot.app import create_app
from bot.demo import populate
from store.db import session_scope
from store.models import Outbox
from tests.conftest import T0, TZ


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def test_page_and_user_list(client):
    page = client.get("/sim")
    assert page.status_code == 200 and "留痕 · 本地聊天模拟器" in page.text
    users = client.get("/sim/api/users").json()
    assert {"id": "lilei", "name": "李雷", "role": "rep", "team": "华东一组"} in users


def test_typing_help_shows_the_command_list_card(client):
    messages = client.post("/sim/api/send", json={"user": "lilei", "text": "帮助"}).json()["messages"]
    assert [m["direction"] for m in messages] == ["in", "out"]
    assert messages[0]["payload"]["text"] == "帮助"
    card = messages[1]["payload"]["card"]
    assert card["title"] == "留痕 · 可用命令"
    assert [b["label"] for b in card["buttons"]] == ["再看一遍"]
    assert card["buttons"][0]["key"] != "help:again"  # the client only sees an opaque token


def test_card_button_comes_back_through_the_router_once(client):
    card_msg = client.post("/sim/api/send", json={"user": "lilei", "text": "帮助"}).json()["messages"][1]
    key = card_msg["payload"]["card"]["buttons"][0]["key"]
    clicked = client.post("/sim/api/click", json={"user": "lilei", "key": key, "card_ref": str(card_msg["id"])})
    [again] = clicked.json()["messages"]
    assert again["payload"]["card"]["title"] == "留痕 · 可用命令"
    second = client.post("/sim/api/click", json={"user": "lilei", "key": key, "card_ref": str(card_msg["id"])})
    assert second.json()["messages"][0]["payload"]["text"] == "这张卡片已经处理过了。"


def test_foreign_forged_and_expired_card_clicks_are_refused(client, runtime):
    card_msg = client.post("/sim/api/send", json={"user": "lilei", "text": "帮助"}).json()["messages"][1]
    key = card_msg["payload"]["card"]["buttons"][0]["key"]
    foreign = client.post("/sim/api/click", json={"user": "hanmeimei", "key": key}).json()["messages"]
    assert foreign[0]["payload"]["text"] == "这张卡片不是发给您的，无法操作。"
    forged = client.post("/sim/api/click", json={"user": "lilei", "key": "help:again"}).json()["messages"]
    assert forged[0]["payload"]["text"] == "无法识别这次点击，请重新发起操作。"
    runtime.clock.advance(timedelta(days=8))
    expired = client.post("/sim/api/click", json={"user": "lilei", "key": key}).json()["messages"]
    assert expired[0]["payload"]["text"] == "这张卡片已过期，请重新发起操作。"


def test_menu_click_runs_the_command_of_the_same_name(client):
    messages = client.post("/sim/api/menu", json={"user": "zhangwei", "key": "帮助"}).json()["messages"]
    assert messages[-1]["payload"]["card"]["title"] == "留痕 · 可用命令"


def test_unknown_user_and_oversized_text_are_refused_with_nothing_stored(client):
    assert client.post("/sim/api/send", json={"user": "ghost", "text": "帮助"}).status_code == 404
    too_long = client.post("/sim/api/send", json={"user": "lilei", "text": "长" * 20_001})
    assert too_long.status_code == 413
    assert too_long.json()["detail"] == "消息太长：最多 20000 字，这条有 20001 字。请分几条发送。"
    assert client.get("/sim/api/messages", params={"user": "lilei"}).json()["messages"] == []


def test_cancel_leaves_nothing_to_cancel(client):
    messages = client.post("/sim/api/send", json={"user": "lilei", "text": "取消"}).json()["messages"]
    assert messages[-1]["payload"]["text"] == "当前没有进行中的操作。"


def test_healthz_and_metrics(client):
    health = client.get("/healthz").json()
    assert health["database"] == "ok" and health["channels"] == {"local": "ok"}
    client.post("/sim/api/send", json={"user": "lilei", "text": "帮助"})
    metrics = client.get("/metrics").text
    assert 'liuhen_inbound_total{channel="local"} 1.0' in metrics
    assert 'liuhen_outbox_sent_total{channel="local"} 1.0' in metrics


def test_fast_forward_from_the_evening_says_which_pushes_quiet_hours_held(client, runtime, engine):
    populate(engine, runtime.rules, at=T0, tz=TZ)
    runtime.clock.advance(timedelta(hours=12))  # 22:00, inside quiet hours (21:00–08:00)
    leap = client.post("/sim/api/clock", json={"days": 1}).json()
    assert leap["now"].startswith("2026-12-02T22:00")
    assert leap["held"] > 0 and leap["pushed"] >= leap["held"]
    assert leap["notice"].startswith("已快进 1 天，现在是 12-02 22:00。")
    assert f"其中 {leap['held']} 条生成于免打扰时段（21:00–08:00），已顺延到 08:30 送达。" in leap["notice"]
    with session_scope(engine) as session:
        waiting = session.execute(select(Outbox.next_attempt_at).where(Outbox.status == "pending")).scalars().all()
    # what the night before held went out at 08:30 on the way; tonight's wait for tomorrow's 08:30
    assert {w.astimezone(TZ).isoformat() for w in waiting} <= {"2026-12-03T08:30:00+08:00"}


def test_the_demo_clock_starts_at_ten_whenever_the_demo_is_run(tmp_path):
    runtime = demo.prepare(db_path=tmp_path / "demo.db", port=8123)
    assert runtime.clock.local_now().strftime("%H:%M") == "10:00"
