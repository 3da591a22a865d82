from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app


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
    assert client.post("/sim/api/send", json={"user": "lilei", "text": "长" * 20_001}).status_code == 422
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
