from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from store.models import Message, Touch
from tests.conftest import T0
from tests.conversation import inbox, say, seed_bound_customer, texts

TOKEN = "archive-secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HD = "华东医疗器械有限公司"
ROOM = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
MS = int(T0.timestamp() * 1000)


@pytest.fixture
def client(runtime):
    runtime.settings.ingest.archive_token = TOKEN
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


@pytest.fixture
def huadong(engine) -> int:
    return seed_bound_customer(engine, "wecom", ROOM).customer_id


def record(msgid: str, msgtype: str, body: dict, *, sender: str = "lilei", room: str = ROOM, at: int = MS) -> dict:
    return {"msgid": msgid, "action": "send", "from": sender, "tolist": ["wmExternal01"], "roomid": room,
            "msgtime": at, "msgtype": msgtype, msgtype: body}


def post(client, records, headers=AUTH):
    return client.post("/ingest/archive", json=records, headers=headers)


def touches(engine) -> list[Touch]:
    with Session(engine) as session:
        return list(session.exec(select(Touch).order_by(Touch.id)).all())


def test_records_become_classified_touches_linked_by_the_bound_room(client, engine, huadong):
    response = post(client, [
        record("m1", "file", {"filename": "华东方案", "fileext": "pdf", "filesize": 1024}),
        record("m2", "link", {"title": "产品手册", "link_url": "https://liuhen.example.com/p/1"}),
        record("m3", "text", {"content": "腾讯会议 https://meeting.tencent.com/dm/x1"}),
        record("m4", "file", {"filename": "报价.xlsx", "fileext": "xlsx"}),
        record("m5", "text", {"content": "好的收到"}),
        record("m6", "docmsg", {"title": "需求文档", "link_url": "https://doc.weixin.qq.com/x"}),
        record("m7", "meeting", {"topic": "方案沟通会", "starttime": 1764554400}),
        record("m8", "voip_doc_share", {"filename": "演示.pdf", "filesize": 2048}),
        {**record("m9", "file", {"filename": "撤回.pdf"}), "action": "recall"},
    ])
    assert response.status_code == 200
    assert response.json() == {"stored": 9, "duplicates": 0, "rejected": []}
    found = [(t.source_msg_id, t.kind, t.valid, t.source, t.customer_id) for t in touches(engine)]
    assert found == [("m1", "pdf", True, "archive", huadong), ("m2", "product_link", True, "archive", huadong),
                     ("m3", "meeting", True, "archive", huadong), ("m4", "file", False, "archive", huadong),
                     ("m5", "message", False, "archive", huadong), ("m6", "message", False, "archive", huadong),
                     ("m7", "meeting", True, "archive", huadong), ("m8", "pdf", True, "archive", huadong)]
    assert touches(engine)[0].filename == "华东方案.pdf" and touches(engine)[0].at == T0


def test_raw_records_are_in_the_inbox_and_a_resend_is_a_duplicate(client, engine, huadong):
    batch = [record("m1", "file", {"filename": "方案.pdf"})]
    assert post(client, batch).json() == {"stored": 1, "duplicates": 0, "rejected": []}
    assert post(client, batch).json() == {"stored": 0, "duplicates": 1, "rejected": []}
    with Session(engine) as session:
        [row] = session.exec(select(Message).where(Message.channel == "archive")).all()
        assert row.msg_id == "m1" and row.event["raw"] == batch[0]
        assert row.processed_at is not None and row.user_id == "lilei"
    assert len(touches(engine)) == 1


def test_archive_acks_are_batched_to_the_rep(client, runtime, engine, huadong):
    post(client, [record(f"m{n}", "file", {"filename": f"方案{n}.pdf"}) for n in range(10)])
    runtime.clock.advance(timedelta(seconds=11))
    runtime.work_once()
    assert texts(inbox(client)) == [f"已记录有效触达：{HD} · 方案PDF×10"]


def test_the_same_message_via_bot_and_archive_counts_once(client, runtime, engine, huadong):
    say(client, "华东医疗 产品手册 https://liuhen.example.com/p/1")
    earlier = MS - 1_000  # the archive's clock says 09:59:59, the bot saw it at 10:00:00
    response = post(client, [record("a1", "text", {"content": "华东医疗 产品手册 https://liuhen.example.com/p/1"},
                                    room="", at=earlier)])
    assert response.json() == {"stored": 1, "duplicates": 0, "rejected": []}
    [touch] = touches(engine)
    assert touch.source == "local"


def test_bad_records_are_reported_one_by_one_and_good_ones_still_stored(client, engine, huadong):
    response = post(client, [
        {"msgid": "x1", "action": "send", "from": "lilei", "msgtype": "text"},
        record("x2", "text", {"content": "hi"}, sender="wmExternalCustomer"),
        "not a record",
        record("ok", "file", {"filename": "方案.pdf"}),
        {**record("x3", "text", {"content": "hi"}), "msgtime": "yesterday"},
    ])
    assert response.status_code == 200
    assert response.json() == {"stored": 1, "duplicates": 0, "rejected": [
        {"index": 0, "msgid": "x1", "error": "缺少字段：msgtime"},
        {"index": 1, "msgid": "x2", "error": "未知用户：wmExternalCustomer（发送人须是组织内已导入的企业微信成员）"},
        {"index": 2, "msgid": None, "error": "记录必须是 JSON 对象"},
        {"index": 4, "msgid": "x3", "error": "msgtime 应为毫秒时间戳"},
    ]}
    assert [t.source_msg_id for t in touches(engine)] == ["ok"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_missing_or_wrong_token_is_401_and_nothing_stored(client, engine, headers):
    response = post(client, [record("m1", "file", {"filename": "方案.pdf"})], headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "未授权：缺少或错误的 Bearer 令牌"}
    assert touches(engine) == []


def test_non_json_and_non_array_bodies_are_400(client):
    bad = client.post("/ingest/archive", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert (bad.status_code, bad.json()) == (400, {"error": "请求体不是合法的 JSON"})
    obj = post(client, {"msgid": "m1"})
    assert (obj.status_code, obj.json()) == (400, {"error": "请求体必须是 JSON 数组（会话存档记录列表）"})


def test_oversized_body_is_413(client, engine):
    filler = [record(f"m{n}", "text", {"content": "长" * 1000}) for n in range(400)]
    response = post(client, filler)
    assert (response.status_code, response.json()) == (413, {"error": "请求体超过 1 MiB"})
    assert touches(engine) == []


def test_the_route_is_off_without_a_token(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        assert client.post("/ingest/archive", json=[], headers=AUTH).status_code == 404
