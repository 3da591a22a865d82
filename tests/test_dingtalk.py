"""DingTalk end to end over the real dingtalk-stream SDK against the fake gateway: in, stored, ACKed, answered."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from dingtalk_stream import DingTalkStreamClient
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.channels.dingtalk_stream import StreamListener
from bot.config import load_settings
from bot.events import Event
from store.models import Alert, AuditLog, Checklist, Message, Outbox, User
from tests.conftest import DATA, T0
from tests.conversation import seed_customer
from tests.fakes.dingtalk_gateway import FakeDingTalk

LILEI = "0123"
STRANGER = "0201"  # 刘洋 is in DingTalk's contacts but has no dingtalk_userid with us
CREATE = "/v1.0/card/instances/createAndDeliver"
UPDATE = "/v1.0/card/instances"
BATCH = "/v1.0/robot/oToMessages/batchSend"


@pytest.fixture
def fake() -> Iterator[FakeDingTalk]:
    with FakeDingTalk() as fake:
        yield fake


@pytest.fixture
def settings(db_url, fake):
    return load_settings(environ={}, path=DATA / "config-test.yaml",
                         overrides={"database": {"url": db_url}, "dingtalk": fake.liuhen_config()})


@pytest.fixture
def stream(runtime, fake):
    """Only the Stream runs; the test drives the inbox and outbox with work_once()."""
    runtime.dingtalk.listen(runtime.inbox.ingest_many, runtime.wake)
    fake.wait_for_connection()
    yield runtime.dingtalk
    runtime.dingtalk.close()


def rows(runtime) -> list[Message]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(Message).order_by(Message.id)).all())


def card_buttons(fake: FakeDingTalk, out_track_id: str) -> list[dict]:
    return json.loads(fake.cards[out_track_id]["card_data"]["buttons"])


def test_help_card_click_sends_it_again_and_updates_the_card_with_workers_running(runtime, fake):
    runtime.start(with_scheduler=False)
    try:
        fake.wait_for_connection()
        fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(LILEI, "帮助")))
        [created] = fake.wait_for_calls(CREATE)
        card_id = created.body["outTrackId"]
        card = fake.cards[card_id]
        assert created.body["openSpaceId"] == f"dtv1.card//IM_ROBOT.{LILEI}"
        assert card["template_id"] == "liuhen-card.schema" and card["callback_type"] == "STREAM"
        assert card["card_data"]["title"] == "留痕 · 可用命令" and "帮助 —— 查看可用命令" in card["card_data"]["content"]
        [button] = card_buttons(fake, card_id)
        assert button["text"] == "再看一遍" and button["token"] != "help:again"

        ack = fake.wait_for_ack(fake.deliver_card_callback(card_id, LILEI, {"token": button["token"]}))
        assert fake.seen_by(card_id, LILEI)["buttons"] == "[]"  # answered in the ACK, at once
        assert fake.seen_by(card_id, LILEI)["status"] == "已处理"
        assert json.loads(ack["data"])["response"]["cardUpdateOptions"] == {"updatePrivateDataByKey": True}
        again = fake.wait_for_calls(CREATE, 2)[1]
        assert fake.cards[again.body["outTrackId"]]["card_data"]["title"] == "留痕 · 可用命令"
        assert fake.calls(UPDATE) == [] and fake.card_updates_during_click == []  # no update API for a click
        assert card_buttons(fake, card_id) == [button]  # a group card stays usable for the others
        assert fake.seen_by(card_id, "0101")["buttons"] == card["card_data"]["buttons"]
        assert runtime.health()["channels"]["dingtalk"] == "connected"
    finally:
        runtime.stop()
    assert runtime.health()["channels"]["dingtalk"] == "disconnected"


def test_message_kinds_become_events_and_group_text_loses_the_mention_space(runtime, fake, stream):
    payloads = [
        fake.chatbot_text(LILEI, "排行榜", conversation_type="2"),
        fake.chatbot_picture(LILEI, b"png"),
        fake.chatbot_file(LILEI, "回款凭证.pdf"),
        fake.chatbot_audio(LILEI, "明天拜访华东医疗"),
        fake.chatbot_rich_text(LILEI, ["合同", b"page", "见附件"]),
    ]
    for payload in payloads:
        fake.wait_for_ack(fake.deliver_chatbot(payload))
    got = [(m.kind, m.text, m.chat_id, m.msg_id, m.sender) for m in rows(runtime)]
    ids = [p["msgId"] for p in payloads]
    assert got == [
        ("text", "排行榜", fake.group_conversation_id, ids[0], LILEI),
        ("image", None, None, ids[1], LILEI),
        ("file", None, None, ids[2], LILEI),
        ("voice", None, None, ids[3], LILEI),  # the text column waits for the rep to confirm the recognition
        ("text", "合同\n见附件", None, ids[4], LILEI),
    ]
    events = [Event.from_dict(m.event) for m in rows(runtime)]
    assert events[2].filename == "回款凭证.pdf" and events[2].media == payloads[2]["content"]["downloadCode"]
    assert (events[3].text, events[3].media) == ("明天拜访华东医疗", payloads[3]["content"]["downloadCode"])
    assert events[3].payload["duration_ms"] == payloads[3]["content"]["duration"]
    assert events[0].payload["session_webhook"] == payloads[0]["sessionWebhook"]
    assert events[0].payload["session_webhook_expires_ms"] == payloads[0]["sessionWebhookExpiredTime"]
    assert events[1].payload["conversation_id"] == fake.single_conversation_id(LILEI)


def test_a_message_redelivered_after_a_dropped_ack_is_answered_once(runtime, fake, stream):
    fake.drop_before_ack(graceful=True)
    mid = fake.deliver_chatbot(fake.chatbot_text(LILEI, "帮助"))
    fake.wait_for_ack(mid)
    fake.redeliver(mid)  # and once more, as a platform retry would
    fake.wait_for_calls("/v1.0/gateway/connections/open", 2)
    assert fake.deliveries(mid) == 3 and fake.connection_count == 2
    runtime.work_once()
    assert len(rows(runtime)) == 1 and len(fake.calls(CREATE)) == 1


def test_after_a_gateway_restart_the_client_reconnects_and_the_next_message_is_handled(runtime, fake, stream):
    fake.restart()
    fake.wait_for_connection(2)
    fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(LILEI, "取消")))
    runtime.work_once()
    [sent] = fake.robot_messages(LILEI)
    assert sent["msgKey"] == "sampleText" and sent["msgParam"] == {"content": "当前没有进行中的操作。"}


def test_unknown_sender_gets_the_polite_reply_on_dingtalk(runtime, fake, stream):
    fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(STRANGER, "帮助")))
    runtime.work_once()
    [reply] = fake.robot_messages(STRANGER)
    assert "您还不是「留痕」的注册用户" in reply["msgParam"]["content"]


def test_group_reply_goes_to_the_group_conversation(runtime, fake, stream):
    fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(LILEI, "取消", conversation_type="2")))
    runtime.work_once()
    [sent] = fake.robot_messages(conversation_id=fake.group_conversation_id)
    assert sent["msgParam"] == {"content": "当前没有进行中的操作。"}


def test_contact_and_other_events_are_stored_and_acked(runtime, fake, stream):
    added = fake.deliver_event("user_add_org", fake.contact_event(["0999"]))
    left = fake.deliver_event("user_leave_org", fake.contact_event(["0101", "0202"]))
    other = fake.deliver_event("chat_update_title", {"chatId": "chat1"})
    for mid in (added, left, other):
        fake.wait_for_ack(mid)
    events = sorted((Event.from_dict(m.event) for m in rows(runtime)), key=lambda e: e.sender)  # handled concurrently
    assert [(e.kind, e.sender, e.payload.get("change")) for e in events] == [
        ("contact_change", "0101", "delete_user"), ("contact_change", "0202", "delete_user"),
        ("contact_change", "0999", "create_user"), ("other", fake.corp_id, None)]
    assert events[2].payload == {"change": "create_user", "user_id": "0999", "name": None,
                                 "event_type": "user_add_org"}
    assert events[3].payload["event_type"] == "chat_update_title"
    assert len({e.msg_id for e in events}) == 4


def test_contact_events_deactivate_leavers_and_add_joiners(runtime, fake, stream):
    for mid in (fake.deliver_event("user_leave_org", fake.contact_event([LILEI])),
                fake.deliver_event("user_add_org", fake.contact_event(["0999"]))):
        fake.wait_for_ack(mid)
    runtime.work_once()
    with Session(runtime.engine) as session:
        leaver = session.exec(select(User).where(User.dingtalk_userid == LILEI)).one()
        joiner = session.exec(select(User).where(User.dingtalk_userid == "0999")).one()
        audit = {(a.actor, a.action, a.target) for a in session.exec(select(AuditLog))}
    assert not leaver.active
    assert (joiner.role, joiner.active) == ("rep", True)
    assert {("dingtalk", "contact_change:delete_user", LILEI), ("dingtalk", "contact_change:create_user", "0999")} <= audit


def test_platform_events_of_other_kinds_are_stored_acked_and_never_answered(runtime, fake, stream):
    fake.wait_for_ack(fake.deliver_event("chat_update_title", {"chatId": "chat1"}))
    runtime.work_once()
    [row] = rows(runtime)
    assert (row.kind, row.sender) == ("other", fake.corp_id) and row.processed_at is not None
    with Session(runtime.engine) as session:  # no unknown-user notice to the corp id, no alert to admins
        assert session.exec(select(Outbox)).all() == [] and session.exec(select(Alert)).all() == []


def test_nothing_stored_means_no_ack(fake, clock, runtime):
    stored: list[Event] = []

    def sink(events: list[Event]) -> list[bool]:
        if any(e.text == "first" for e in events):  # the commit that would hold it fails
            raise RuntimeError("database is down")
        stored.extend(events)
        return [True] * len(events)

    listener = StreamListener(runtime.settings.dingtalk, sink, clock)
    listener.start()
    try:
        failed = fake.deliver_chatbot(fake.chatbot_text(LILEI, "first"))
        fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(LILEI, "second")))
    finally:
        listener.stop()
    assert failed not in fake.acks and [e.text for e in stored] == ["second"]


def test_the_listener_starts_the_sdk_loop_again_when_it_ends(fake, clock, runtime, monkeypatch):
    """`start()` returns or raises only on surprises (e.g. KeyboardInterrupt inside it); we must not stay dead."""
    ended = threading.Event()
    original = DingTalkStreamClient.start

    async def ends_once(self):
        if not ended.is_set():
            ended.set()
            raise RuntimeError("the SDK loop gave up")
        await original(self)

    monkeypatch.setattr(DingTalkStreamClient, "start", ends_once)
    stored: list[Event] = []

    def sink(events: list[Event]) -> list[bool]:
        stored.extend(events)
        return [True] * len(events)

    listener = StreamListener(runtime.settings.dingtalk, sink, clock, restart_seconds=0.01)
    listener.start()
    try:
        fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(LILEI, "还在吗")))
        assert listener.state == "connected"
    finally:
        listener.stop()
    assert listener.restarts == 1 and [e.text for e in stored] == ["还在吗"]
    assert listener.state == "disconnected"


def test_a_refused_secret_keeps_the_stream_connecting_without_logging_it(fake, clock, runtime, caplog):
    config = runtime.settings.dingtalk.model_copy(update={"client_secret": "wrong-secret"})
    listener = StreamListener(config, lambda events: [True] * len(events), clock)
    listener.start()
    try:
        [refused] = fake.wait_for_calls("/v1.0/gateway/connections/open")
        assert refused.status == 400 and listener.state == "connecting"
    finally:
        listener.stop()
    assert listener.state == "disconnected" and fake.connection_count == 0
    assert "wrong-secret" not in caplog.text


def test_healthz_shows_the_stream_state(runtime, fake, stream):
    fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(LILEI, "你好")))
    with TestClient(create_app(runtime, start_workers=False)) as client:
        assert client.get("/healthz").json()["channels"]["dingtalk"] == "connected"


def test_a_checklist_stays_usable_for_the_clicker_after_a_tick_until_done(runtime, fake, stream):
    with Session(runtime.engine) as session:
        seed_customer(session, "华东医疗器械有限公司", aliases=["华东医疗"], updated=T0)
    fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(LILEI, "拜访 华东医疗")))
    runtime.work_once()
    [created] = fake.calls(CREATE)
    card_id = created.body["outTrackId"]
    first = card_buttons(fake, card_id)[0]["token"]
    fake.wait_for_ack(fake.deliver_card_callback(card_id, LILEI, {"token": first}))
    assert fake.seen_by(card_id, LILEI)["buttons"] == "[]"  # the ACK answers at once
    runtime.work_once()
    mine = json.loads(fake.seen_by(card_id, LILEI)["buttons"])  # the redrawn card, for the clicker too
    assert mine == card_buttons(fake, card_id) and mine[0]["text"].startswith("☑")
    assert fake.seen_by(card_id, LILEI)["status"] == ""
    fake.wait_for_ack(fake.deliver_card_callback(card_id, LILEI, {"token": mine[-1]["token"]}))  # 完成拜访
    runtime.work_once()
    with Session(runtime.engine) as session:
        checklist = session.exec(select(Checklist)).one()
    assert checklist.completed_at is not None and [item["done"] for item in checklist.items] == [True]
