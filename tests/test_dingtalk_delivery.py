"""DingTalk outbound through the dispatcher against the fake OpenAPI: rendering, throttling, faults, tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session

from bot import cards
from bot.cards import Button, Card, Reply
from bot.channels.dingtalk import DingTalkChannel
from bot.channels.dingtalk_api import DingTalkApi
from bot.config import load_settings
from store.db import session_scope
from store.models import AccessToken, Outbox
from tests.conftest import DATA
from tests.fakes.dingtalk_gateway import FakeDingTalk

LILEI = "0123"
BATCH = "/v1.0/robot/oToMessages/batchSend"
TOKEN = "/v1.0/oauth2/accessToken"


@pytest.fixture
def fake() -> Iterator[FakeDingTalk]:
    with FakeDingTalk() as fake:
        yield fake


@pytest.fixture
def settings(db_url, fake):
    return load_settings(environ={}, path=DATA / "config-test.yaml",
                         overrides={"database": {"url": db_url}, "dingtalk": fake.liuhen_config()})


def queue(runtime, reply: Reply, key: str = "k1", **kw) -> int:
    with session_scope(runtime.engine) as session:
        return cards.queue(session, reply, dedupe_key=key, now=runtime.clock.now(), channel="dingtalk", **kw)


def row(runtime, row_id: int) -> Outbox:
    with Session(runtime.engine) as session:
        return session.get(Outbox, row_id)


def test_text_markdown_and_group_messages(runtime, fake):
    queue(runtime, Reply.say("你好", to_user="lilei"), "a")
    queue(runtime, Reply.markdown("## **周报** 已生成\n详情见看板", to_user="lilei"), "b")
    queue(runtime, Reply.say("本周排行榜", to_chat=fake.group_conversation_id), "c")
    assert runtime.dispatcher.flush() == 3
    text, markdown = fake.robot_messages(LILEI)
    assert (text["msgKey"], text["msgParam"]) == ("sampleText", {"content": "你好"})
    assert markdown["msgKey"] == "sampleMarkdown" and markdown["msgParam"]["title"] == "周报 已生成"
    [group] = fake.robot_messages(conversation_id=fake.group_conversation_id)
    assert group["msgParam"] == {"content": "本周排行榜"}
    [call] = fake.calls(BATCH)[:1]
    assert call.body["robotCode"] == fake.robot_code and call.body["userIds"] == [LILEI]


def test_card_with_fields_link_and_buttons_goes_to_a_group_as_an_interactive_card(runtime, fake):
    card = Card("商机停滞提醒", lines=["华东医疗 5 天没有更新"], fields=[("阶段", "方案演示")],
                buttons=[Button("更新进展", "x:update", style="primary")], link=("看板", "http://dash/1"), note="请尽快跟进")
    row_id = queue(runtime, Reply.show(card, to_chat=fake.group_conversation_id))
    runtime.dispatcher.flush()
    sent = row(runtime, row_id)
    created = fake.cards[sent.platform_ref]
    assert created["open_space_id"] == f"dtv1.card//IM_GROUP.{fake.group_conversation_id}"
    data = created["card_data"]
    assert data["content"] == "华东医疗 5 天没有更新\n\n**阶段**：方案演示\n\n> 请尽快跟进"
    assert (data["title"], data["link_text"], data["link_url"], data["status"]) == (
        "商机停滞提醒", "看板", "http://dash/1", "")
    [button] = json.loads(data["buttons"])
    assert button["text"] == "更新进展" and button["style"] == "primary" and button["token"] != "x:update"


def test_without_a_card_template_a_card_arrives_as_markdown(runtime, fake):
    channel = DingTalkChannel(runtime.settings.dingtalk.model_copy(update={"card_template_id": ""}),
                              runtime.engine, runtime.clock)
    runtime.channels["dingtalk"] = channel
    queue(runtime, Reply.show(Card("留痕 · 可用命令", lines=["· 帮助"], link=("看板", "http://d")), to_user="lilei"))
    runtime.dispatcher.flush()
    [sent] = fake.robot_messages(LILEI)
    assert sent["msgKey"] == "sampleMarkdown"
    assert sent["msgParam"] == {"title": "留痕 · 可用命令", "text": "#### 留痕 · 可用命令\n\n· 帮助\n\n[看板](http://d)"}
    assert fake.cards == {}


def test_an_image_is_uploaded_and_sent_with_its_caption(runtime, fake):
    png = b"\x89PNG\r\n\x1a\nchart"
    queue(runtime, Reply(kind="image", image=png, text="本周漏斗", to_user="lilei"))
    runtime.dispatcher.flush()
    image, caption = fake.robot_messages(LILEI)
    [(media_id, (filename, content))] = fake.media.items()
    assert (filename, content) == ("image.png", png)
    assert image["msgKey"] == "sampleImageMsg" and image["msgParam"] == {"photoURL": media_id}
    assert caption["msgParam"] == {"content": "本周漏斗"}


def test_a_failed_caption_is_retried_without_sending_the_image_twice(runtime, fake):
    accepted = {"processQueryKey": "image-sent", "invalidStaffIdList": [], "flowControlledStaffIdList": []}
    fake.fail_next(BATCH, 200, body=accepted)  # the image goes out …
    fake.fail_next(BATCH, 403)  # … the caption is throttled
    row_id = queue(runtime, Reply(kind="image", image=b"png", text="说明", to_user="lilei"))
    runtime.dispatcher.run_once()
    runtime.clock.advance(timedelta(seconds=2))
    runtime.dispatcher.run_once()
    assert [(c.body["msgKey"], c.status) for c in fake.calls(BATCH)] == [
        ("sampleImageMsg", 200), ("sampleText", 403), ("sampleText", 200)]
    assert row(runtime, row_id).status == "sent" and row(runtime, row_id).payload["sent_refs"][0] == "image-sent"


@pytest.mark.parametrize("status", [403, 429, 500, 503])
def test_throttling_and_server_errors_back_off_then_deliver_exactly_once(runtime, fake, status):
    fake.fail_next(BATCH, status)
    row_id = queue(runtime, Reply.say("你好", to_user="lilei"))
    assert runtime.dispatcher.run_once() == 1
    failed = row(runtime, row_id)
    throttled = status in (403, 429)  # a rate limit says "later": no attempt is spent
    assert failed.status == "pending" and failed.attempts == (0 if throttled else 1)
    assert f"HTTP {status}" in failed.last_error
    wait = failed.next_attempt_at - runtime.clock.now()
    assert wait == (timedelta(seconds=2) if throttled else timedelta(seconds=5))
    assert runtime.dispatcher.run_once() == 0  # not due yet
    runtime.clock.advance(wait)
    assert runtime.dispatcher.run_once() == 1
    assert row(runtime, row_id).status == "sent" and len(fake.robot_messages(LILEI)) == 1
    assert runtime.dispatcher.flush() == 0 and len(fake.calls(BATCH)) == 2


def test_a_timeout_is_recorded_and_retried(runtime, fake):
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    runtime.channels["dingtalk"] = DingTalkChannel(
        runtime.settings.dingtalk, runtime.engine, runtime.clock,
        api=DingTalkApi(runtime.settings.dingtalk, runtime.engine, runtime.clock,
                        transport=httpx.MockTransport(timeout)))
    row_id = queue(runtime, Reply.say("你好", to_user="lilei"))
    runtime.dispatcher.run_once()
    failed = row(runtime, row_id)
    assert failed.status == "pending" and "ReadTimeout" in failed.last_error and failed.attempts == 1


def test_an_expired_token_is_refreshed_once_and_the_message_delivered(runtime, fake):
    queue(runtime, Reply.say("一", to_user="lilei"), "a")
    runtime.dispatcher.flush()
    fake.expire_tokens()
    queue(runtime, Reply.say("二", to_user="lilei"), "b")
    runtime.dispatcher.flush()
    assert [m["msgParam"]["content"] for m in fake.robot_messages(LILEI)] == ["一", "二"]
    assert [r.status for r in fake.calls(BATCH)] == [200, 400, 200]
    assert len(fake.calls(TOKEN)) == 2
    with Session(runtime.engine) as session:
        stored = session.get(AccessToken, f"dingtalk:{fake.client_id}")
    assert stored.token == fake.calls(BATCH)[-1].headers["x-acs-dingtalk-access-token"]


def test_the_token_is_renewed_before_it_expires_and_a_refused_one_is_not_retried_forever(runtime, fake):
    queue(runtime, Reply.say("一", to_user="lilei"), "a")
    runtime.dispatcher.flush()
    runtime.clock.advance(timedelta(seconds=7200 - 299))  # inside the last 5 minutes: fetch a new one first
    refused = {"code": "InvalidAuthentication", "message": "不合法的access_token"}
    fake.fail_next(BATCH, 400, times=2, body=refused)
    row_id = queue(runtime, Reply.say("二", to_user="lilei"), "b")
    runtime.dispatcher.flush()
    assert [r.status for r in fake.calls(BATCH)] == [200, 400, 400]  # one retry with a fresh token, no loop
    assert len(fake.calls(TOKEN)) == 3
    failed = row(runtime, row_id)
    assert failed.status == "pending" and "InvalidAuthentication" in failed.last_error


def test_a_member_dingtalk_does_not_know_and_a_bad_request_fail_for_good(runtime, fake):
    fake.fail_next(BATCH, 400, body={"code": "InvalidParameter", "message": "robotCode不合法"})
    bad = queue(runtime, Reply.say("你好", to_user="lilei"), "a")
    unknown = queue(runtime, Reply.say("你好"), "b", platform_user="nobody")
    runtime.dispatcher.flush()
    assert (row(runtime, unknown).status, row(runtime, bad).status) == ("failed", "failed")
    assert "nobody" in row(runtime, unknown).last_error and "robotCode不合法" in row(runtime, bad).last_error


def test_a_handlers_card_update_replaces_the_card_for_everyone(runtime, fake):
    shown = queue(runtime, Reply.show(Card("升级提醒", buttons=[Button("已跟进", "x:done")]), to_user="lilei"), "a")
    runtime.dispatcher.flush()
    ref = row(runtime, shown).platform_ref
    with session_scope(runtime.engine) as session:
        cards.queue(session, Reply.update(Card("✅ 已跟进（张伟）")), dedupe_key="b", now=runtime.clock.now(),
                    channel="dingtalk", platform_user=LILEI, update_ref=ref)
    runtime.dispatcher.flush()
    [update] = fake.calls("/v1.0/card/instances")
    assert update.body["cardUpdateOptions"] == {"updateCardDataByKey": False, "updatePrivateDataByKey": True}
    data = fake.cards[ref]["card_data"]
    assert (data["title"], data["buttons"]) == ("✅ 已跟进（张伟）", "[]")
    assert fake.cards[ref]["private_data"] == {LILEI: {"buttons": "[]", "status": ""}}  # the clicker's view follows


def test_a_card_update_without_a_card_ref_fails_for_good(runtime, fake):
    with session_scope(runtime.engine) as session:
        row_id = cards.queue(session, Reply.update(Card("已跟进")), dedupe_key="u", now=runtime.clock.now(),
                             channel="dingtalk", platform_user=LILEI)
    runtime.dispatcher.flush()
    assert row(runtime, row_id).status == "failed" and fake.calls("/v1.0/card/instances") == []
