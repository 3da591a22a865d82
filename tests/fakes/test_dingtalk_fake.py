"""Self-tests: the DingTalk fake speaks the Stream protocol the real dingtalk-stream SDK expects, and the OpenAPI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any

import httpx
import pytest
import websockets.sync.client
from dingtalk_stream import (
    AckMessage,
    CallbackHandler,
    CallbackMessage,
    CardCallbackMessage,
    ChatbotHandler,
    ChatbotMessage,
    Credential,
    EventHandler,
    EventMessage,
)
from websockets.exceptions import InvalidStatus

from bot.channels.dingtalk_stream import StreamClient

from .dingtalk_gateway import (
    CARD_PARAM_MAX_BYTES,
    CARD_TEMPLATE_ID,
    OPEN_CONNECTION_PATH,
    ROBOT_THROTTLE_CODES,
    TOPIC_CARD_CALLBACK,
    TOPIC_CHATBOT,
    FakeDingTalk,
    quota_body,
    throttle_body,
)

REP = "0123"  # 李雷 in the default org
MANAGER = "0101"  # 张伟, manager of 华东一组 (dept 2)


class SdkClient:
    """The real DingTalkStreamClient (liuhen's subclass, which opens its connection at `api_base`) on its own
    thread and event loop, as the app runs it."""

    def __init__(
        self,
        fake: FakeDingTalk,
        callbacks: Mapping[str, CallbackHandler],
        events: EventHandler | None = None,
    ) -> None:
        self.client = StreamClient(Credential(fake.client_id, fake.client_secret), api_base=fake.api_base)
        for topic, handler in callbacks.items():
            self.client.register_callback_handler(topic, handler)
        if events is not None:
            self.client.register_all_event_handler(events)
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main()), name="sdk-client", daemon=True
        )

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        task = asyncio.create_task(self.client.start())
        await self._stop.wait()
        # start() catches the first CancelledError and sleeps 10 s before reconnecting: cancel until it ends.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.05)

    def __enter__(self) -> SdkClient:
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)
        assert not self._thread.is_alive(), "the SDK client did not stop"


class Inbox(ChatbotHandler):
    """Records robot messages; a text listed in `failures` raises that many times (the SDK then sends no ACK)."""

    def __init__(self, failures: Mapping[str, int] | None = None, echo: bool = False) -> None:
        super().__init__()
        self.failures = dict(failures or {})
        self.echo = echo
        self.messages: list[ChatbotMessage] = []
        self.replies: list[Any] = []
        self._changed = threading.Condition()

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        message = ChatbotMessage.from_dict(callback.data)
        if self.echo:
            self.replies.append(self.reply_text("收到：" + message.text.content, message))
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()
        text = message.text.content if message.text else ""
        if self.failures.get(text, 0) > 0:
            self.failures[text] -= 1
            raise RuntimeError("handler failed")
        return AckMessage.STATUS_OK, "OK"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ChatbotMessage]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.messages) >= count, timeout), self.messages
            return list(self.messages)


class CardClicks(CallbackHandler):
    """Answers a card click with new card data, as a card callback handler does."""

    def __init__(self) -> None:
        super().__init__()
        self.clicks: list[CardCallbackMessage] = []

    async def process(self, callback: CallbackMessage) -> tuple[int, dict[str, Any]]:
        self.clicks.append(CardCallbackMessage.from_dict(callback.data))
        return AckMessage.STATUS_OK, {
            "cardUpdateOptions": {"updateCardDataByKey": True},
            "cardData": {"cardParamMap": {"status": "已确认"}},
        }


class Events(EventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[EventMessage] = []

    async def process(self, event: EventMessage) -> tuple[int, str]:
        self.events.append(event)
        return AckMessage.STATUS_OK, "OK"


@pytest.fixture
def fake() -> Iterator[FakeDingTalk]:
    with FakeDingTalk() as fake:
        yield fake


def api_token(fake: FakeDingTalk) -> str:
    answer = httpx.post(
        fake.api_base + "/v1.0/oauth2/accessToken",
        json={"appKey": fake.client_id, "appSecret": fake.client_secret},
    )
    assert answer.status_code == 200
    return str(answer.json()["accessToken"])


def test_chatbot_text_reaches_the_handler_and_is_acked(fake: FakeDingTalk) -> None:
    inbox = Inbox()
    with SdkClient(fake, {TOPIC_CHATBOT: inbox}):
        fake.wait_for_connection()
        payload = fake.chatbot_text(REP, "新线索 华东医疗 预算一千万")
        mid = fake.deliver_chatbot(payload)
        ack = fake.wait_for_ack(mid)
        [message] = inbox.wait_for(1)
    assert fake.subscriptions == [{"type": "CALLBACK", "topic": TOPIC_CHATBOT}]
    assert (
        ack["code"] == 200
        and ack["headers"]["messageId"] == mid
        and json.loads(ack["data"]) == {"response": "OK"}
    )
    assert message.text.content == "新线索 华东医疗 预算一千万"
    assert (message.sender_staff_id, message.sender_nick, message.conversation_type) == (REP, "李雷", "1")
    assert message.message_id == payload["msgId"] and message.robot_code == fake.robot_code
    assert message.conversation_id == fake.single_conversation_id(REP)


def test_a_raising_handler_sends_no_ack(fake: FakeDingTalk) -> None:
    inbox = Inbox(failures={"boom": 1})
    with SdkClient(fake, {TOPIC_CHATBOT: inbox}):
        fake.wait_for_connection()
        failed = fake.deliver_chatbot(fake.chatbot_text(REP, "boom"))
        later = fake.deliver_chatbot(fake.chatbot_text(REP, "ok"))
        fake.wait_for_ack(later)  # frames are handled in order on one socket: an ACK for "boom" would be here
        inbox.wait_for(2)
    assert failed not in fake.acks
    assert fake.deliveries(failed) == 1  # robot messages are pushed once


def test_drop_before_ack_reconnects_and_redelivers(fake: FakeDingTalk) -> None:
    """graceful=True closes with code 1000, so the SDK reconnects at once; an abrupt drop costs 10 s."""
    inbox = Inbox()
    with SdkClient(fake, {TOPIC_CHATBOT: inbox}):
        fake.wait_for_connection()
        fake.drop_before_ack(graceful=True)
        payload = fake.chatbot_text(REP, "回款 华东医疗 50万")
        mid = fake.deliver_chatbot(payload)
        fake.wait_for_ack(mid)
        seen = inbox.wait_for(2)
    assert fake.connection_count == 2 and fake.deliveries(mid) == 2
    # The handler ran for both copies (its first ACK died with the socket): dedupe on msgId.
    assert [m.message_id for m in seen] == [payload["msgId"]] * 2


def test_an_abruptly_dropped_client_waits_and_still_stops_cleanly(fake: FakeDingTalk) -> None:
    with SdkClient(fake, {TOPIC_CHATBOT: Inbox()}):
        fake.wait_for_connection()
        fake.drop_connection()
        assert not fake.connected
    assert fake.connection_count == 1  # it was sleeping its 10 s when we stopped it


def test_disconnect_and_gateway_restart_reconnect_at_once(fake: FakeDingTalk) -> None:
    inbox = Inbox()
    with SdkClient(fake, {TOPIC_CHATBOT: inbox}):
        fake.wait_for_connection()
        bye = fake.send_disconnect()
        fake.wait_for_connection(2)
        fake.restart()
        fake.wait_for_connection(3)
        mid = fake.deliver_chatbot(fake.chatbot_text(REP, "还在吗"))
        fake.wait_for_ack(mid)
    assert fake.acks[bye]["code"] == 200
    assert fake.sent[-1][0] == 3


def test_frames_queued_while_offline_arrive_on_connect(fake: FakeDingTalk) -> None:
    inbox = Inbox()
    mid = fake.deliver_chatbot(fake.chatbot_text(REP, "早上好"))
    with SdkClient(fake, {TOPIC_CHATBOT: inbox}):
        fake.wait_for_ack(mid)
    assert inbox.wait_for(1)[0].text.content == "早上好"


def test_redelivery_policy_retries_until_acked(fake: FakeDingTalk) -> None:
    inbox = Inbox(failures={"retry": 1})
    fake.redeliver_unacked_after(0.05)
    with SdkClient(fake, {TOPIC_CHATBOT: inbox}):
        fake.wait_for_connection()
        mid = fake.deliver_chatbot(fake.chatbot_text(REP, "retry"))
        fake.wait_for_ack(mid)
    assert fake.deliveries(mid) == 2 and len(inbox.wait_for(2)) == 2


def test_card_callback_on_its_topic_updates_the_card(fake: FakeDingTalk) -> None:
    clicks = CardClicks()
    with SdkClient(fake, {TOPIC_CARD_CALLBACK: clicks}):
        fake.wait_for_connection()
        created = httpx.post(
            fake.api_base + "/v1.0/card/instances/createAndDeliver",
            headers={"x-acs-dingtalk-access-token": api_token(fake)},
            json={
                "cardTemplateId": CARD_TEMPLATE_ID,
                "outTrackId": "card-1",
                "callbackType": "STREAM",
                "cardData": {"cardParamMap": {"status": "待确认", "customer": "华东医疗"}},
                "openSpaceId": f"dtv1.card//IM_ROBOT.{REP}",
                "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT"},
                "userIdType": 1,
            },
        )
        mid = fake.deliver_card_callback("card-1", REP, {"action": "confirm"}, action_id="btn_confirm")
        ack = fake.wait_for_ack(mid)
    assert created.json()["result"]["deliverResults"][0] == {
        "spaceType": "IM_ROBOT",
        "spaceId": REP,
        "success": True,
        "errorMsg": "",
        "carrierId": created.json()["result"]["deliverResults"][0]["carrierId"],
    }
    assert fake.subscriptions == [{"type": "CALLBACK", "topic": TOPIC_CARD_CALLBACK}]
    [click] = clicks.clicks
    assert (click.card_instance_id, click.user_id, click.corp_id) == ("card-1", REP, fake.corp_id)
    assert click.content == {
        "cardPrivateData": {"actionIds": ["btn_confirm"], "params": {"action": "confirm"}}
    }
    assert json.loads(ack["data"])["response"]["cardData"] == {"cardParamMap": {"status": "已确认"}}
    assert fake.cards["card-1"]["card_data"] == {"status": "已确认", "customer": "华东医疗"}


def create_card(fake: FakeDingTalk, out_track_id: str, params: dict[str, str],
                template: str = CARD_TEMPLATE_ID) -> httpx.Response:
    return httpx.post(
        fake.api_base + "/v1.0/card/instances/createAndDeliver",
        headers={"x-acs-dingtalk-access-token": api_token(fake)},
        json={"cardTemplateId": template, "outTrackId": out_track_id, "callbackType": "STREAM",
              "cardData": {"cardParamMap": params}, "openSpaceId": f"dtv1.card//IM_ROBOT.{REP}",
              "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT"}, "userIdType": 1},
    )


def update_card(fake: FakeDingTalk, body: dict[str, Any]) -> httpx.Response:
    return httpx.put(fake.api_base + "/v1.0/card/instances", json={"userIdType": 1, **body},
                     headers={"x-acs-dingtalk-access-token": api_token(fake)})


def test_a_card_value_over_1kb_or_an_unpublished_template_is_refused(fake: FakeDingTalk) -> None:
    at_limit = "钉" * (CARD_PARAM_MAX_BYTES // 3) + "x" * (CARD_PARAM_MAX_BYTES % 3)
    assert create_card(fake, "ok", {"content": at_limit}).status_code == 200
    over = create_card(fake, "big", {"content": at_limit + "x"})
    assert (over.status_code, over.json()["code"]) == (400, "InvalidParameter") and "content" in over.json()["message"]
    unknown = create_card(fake, "other", {"title": "x"}, template="never-published.schema")
    assert unknown.status_code == 400 and "big" not in fake.cards and "other" not in fake.cards
    too_private = update_card(fake, {"outTrackId": "ok", "privateData": {REP: {"cardParamMap": {"status": at_limit + "x"}}}})
    assert too_private.status_code == 400


def test_private_data_shows_only_in_variables_the_template_marks_private(fake: FakeDingTalk) -> None:
    fake.card_templates["plain.schema"] = frozenset()  # the template docs/dingtalk.md used to describe
    for template in (CARD_TEMPLATE_ID, "plain.schema"):
        assert create_card(fake, template, {"buttons": "[1]", "status": ""}, template=template).status_code == 200
        private = {REP: {"cardParamMap": {"buttons": "[]", "status": "已处理"}}}
        assert update_card(fake, {"outTrackId": template, "privateData": private,
                                  "cardUpdateOptions": {"updatePrivateDataByKey": True}}).status_code == 200
    assert fake.seen_by(CARD_TEMPLATE_ID, REP) == {"buttons": "[]", "status": "已处理"}
    assert fake.seen_by(CARD_TEMPLATE_ID, "0101") == {"buttons": "[1]", "status": ""}  # others: unchanged
    assert fake.seen_by("plain.schema", REP) == {"buttons": "[1]", "status": ""}  # ordinary variables: nothing


def test_a_card_is_not_updated_through_the_api_while_its_click_is_unanswered(fake: FakeDingTalk) -> None:
    assert create_card(fake, "card-1", {"status": ""}).status_code == 200
    fake.deliver_card_callback("card-1", REP, {"token": "t"})  # no client: the click waits for its ACK
    refused = update_card(fake, {"outTrackId": "card-1", "cardData": {"cardParamMap": {"status": "x"}}})
    assert refused.status_code == 400 and fake.card_updates_during_click == ["card-1"]
    assert fake.cards["card-1"]["card_data"] == {"status": ""}


@pytest.mark.parametrize("code", ROBOT_THROTTLE_CODES)
def test_the_fault_menu_serves_robot_throttling_and_the_spent_quota(fake: FakeDingTalk, code: str) -> None:
    path = "/v1.0/robot/oToMessages/batchSend"
    fake.fail_next(path, 400, body=throttle_body(code))
    fake.fail_next(path, 403, body=quota_body())
    fake.fail_next("/topapi/v2/user/list", 200, body=quota_body("oapi"))
    body = {"robotCode": fake.robot_code, "userIds": [REP], "msgKey": "sampleText", "msgParam": "{}"}
    headers = {"x-acs-dingtalk-access-token": api_token(fake)}
    throttled = httpx.post(fake.api_base + path, json=body, headers=headers)
    spent = httpx.post(fake.api_base + path, json=body, headers=headers)
    oapi = httpx.post(fake.oapi_base + "/topapi/v2/user/list", json={"dept_id": 1})
    assert (throttled.status_code, throttled.json()["code"]) == (400, code)
    assert (spent.status_code, spent.json()["code"]) == (403, "Forbidden.AccessDenied.ApiCountLimitForOrg")
    assert (oapi.status_code, oapi.json()["errcode"]) == (200, 90020)
    assert fake.robot_messages(REP) == []  # nothing was delivered


def test_events_and_system_ping(fake: FakeDingTalk) -> None:
    events = Events()
    with SdkClient(fake, {}, events=events):
        fake.wait_for_connection()
        mid = fake.deliver_event("user_add_org", fake.contact_event([REP]))
        ack = fake.wait_for_ack(mid)
        ping = fake.send_system_ping()
        pong = fake.wait_for_ack(ping)
    assert fake.subscriptions == [{"type": "EVENT", "topic": "*"}]
    assert ack["code"] == 200
    [event] = events.events
    assert (event.headers.event_type, event.headers.event_corp_id) == ("user_add_org", fake.corp_id)
    assert event.data["userId"] == [REP]
    assert pong["data"] == fake.sent[-1][1]["data"]  # the opaque value comes back


def test_reply_text_posts_to_the_session_webhook(fake: FakeDingTalk) -> None:
    inbox = Inbox(echo=True)
    with SdkClient(fake, {TOPIC_CHATBOT: inbox}):
        fake.wait_for_connection()
        fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(REP, "帮助")))
        group = fake.deliver_chatbot(fake.chatbot_text(MANAGER, "看板", conversation_type="2"))
        fake.wait_for_ack(group)
        expired = fake.deliver_chatbot(fake.chatbot_text(REP, "迟到", webhook_ttl=-1))
        fake.wait_for_ack(expired)
    [reply] = fake.session_replies(fake.single_conversation_id(REP))
    assert reply == {"msgtype": "text", "text": {"content": "收到：帮助"}, "at": {"atUserIds": [REP]}}
    # Group text keeps the space DingTalk leaves after the stripped @mention.
    assert fake.session_replies(fake.group_conversation_id)[0]["text"]["content"] == "收到： 看板"
    # An expired webhook answers HTTP 200 with an errcode, which reply_text does not treat as a failure.
    assert inbox.replies[-1] == {"errcode": 300005, "errmsg": "token is not exist"}


def test_openapi_token_and_robot_messages(fake: FakeDingTalk) -> None:
    headers = {"x-acs-dingtalk-access-token": api_token(fake)}
    sent = httpx.post(
        fake.api_base + "/v1.0/robot/oToMessages/batchSend",
        headers=headers,
        json={
            "robotCode": fake.robot_code,
            "userIds": [REP, "nobody"],
            "msgKey": "sampleMarkdown",
            "msgParam": json.dumps(
                {"title": "阶段红灯", "text": "**华东医疗** 停留 15 天"}, ensure_ascii=False
            ),
        },
    )
    group = httpx.post(
        fake.api_base + "/v1.0/robot/groupMessages/send",
        headers=headers,
        json={
            "robotCode": fake.robot_code,
            "openConversationId": fake.group_conversation_id,
            "msgKey": "sampleText",
            "msgParam": json.dumps({"content": "本周排行榜"}, ensure_ascii=False),
        },
    )
    assert sent.status_code == 200 and sent.json()["invalidStaffIdList"] == ["nobody"]
    assert sent.json()["processQueryKey"] and group.json()["processQueryKey"]
    [message] = fake.robot_messages(REP)
    assert message["msgKey"] == "sampleMarkdown" and message["msgParam"]["title"] == "阶段红灯"
    assert fake.robot_messages(conversation_id=fake.group_conversation_id)[0]["msgParam"] == {
        "content": "本周排行榜"
    }
    assert fake.robot_messages("nobody") == []
    assert fake.wait_for_calls("/v1.0/robot/oToMessages/batchSend")[0].headers["x-acs-dingtalk-access-token"]


def test_openapi_auth_errors_and_faults(fake: FakeDingTalk) -> None:
    url = fake.api_base + "/v1.0/robot/oToMessages/batchSend"
    body = {
        "robotCode": fake.robot_code,
        "userIds": [REP],
        "msgKey": "sampleText",
        "msgParam": '{"content":"hi"}',
    }
    bad_secret = httpx.post(
        fake.api_base + "/v1.0/oauth2/accessToken", json={"appKey": fake.client_id, "appSecret": "x"}
    )
    missing = httpx.post(url, json=body)
    token = api_token(fake)
    fake.fail_next("/v1.0/robot/oToMessages/batchSend", 403)
    throttled = httpx.post(url, headers={"x-acs-dingtalk-access-token": token}, json=body)
    fake.expire_tokens()
    expired = httpx.post(url, headers={"x-acs-dingtalk-access-token": token}, json=body)
    bad_param = httpx.post(
        url,
        headers={"x-acs-dingtalk-access-token": api_token(fake)},
        json={**body, "msgParam": {"content": "hi"}},
    )
    assert (bad_secret.status_code, bad_secret.json()["code"]) == (400, "invalidClientIdOrSecret")
    assert (missing.status_code, missing.json()["code"]) == (400, "AuthenticationFailed.MissingParameter")
    assert (throttled.status_code, throttled.json()["code"]) == (
        403,
        "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
    )
    assert (expired.status_code, expired.json()["code"]) == (400, "InvalidAuthentication")
    assert expired.json()["message"] == "不合法的access_token"
    assert bad_param.status_code == 400 and fake.robot_messages() == []
    assert [r.status for r in fake.calls("/v1.0/robot/oToMessages/batchSend")] == [400, 403, 400, 400]


def test_oapi_contacts_token_errors_and_report(fake: FakeDingTalk) -> None:
    oapi = fake.oapi_base
    token = httpx.get(
        oapi + "/gettoken", params={"appkey": fake.client_id, "appsecret": fake.client_secret}
    ).json()
    params = {"access_token": token["access_token"]}
    subs = httpx.post(oapi + "/topapi/v2/department/listsub", params=params, json={"dept_id": 1}).json()
    first = httpx.post(
        oapi + "/topapi/v2/user/list", params=params, json={"dept_id": 2, "cursor": 0, "size": 1}
    ).json()
    rest = httpx.post(
        oapi + "/topapi/v2/user/list", params=params, json={"dept_id": 2, "cursor": 1, "size": 1}
    ).json()
    rep = httpx.post(oapi + "/topapi/v2/user/get", params=params, json={"userid": REP}).json()
    report = httpx.post(
        oapi + "/topapi/report/create",
        params=params,
        json={
            "create_report_param": {
                "template_id": "tmpl-daily",
                "userid": REP,
                "dd_from": "liuhen",
                "to_chat": False,
                "contents": [
                    {
                        "key": "今日完成工作",
                        "sort": "0",
                        "type": "1",
                        "content_type": "markdown",
                        "content": "拜访华东医疗",
                    }
                ],
            }
        },
    ).json()
    bad_app = httpx.get(oapi + "/gettoken", params={"appkey": fake.client_id, "appsecret": "x"}).json()
    fake.expire_tokens()
    expired = httpx.post(oapi + "/topapi/v2/user/list", params=params, json={"dept_id": 2}).json()
    assert token["errcode"] == 0 and token["expires_in"] == 7200
    assert [d["name"] for d in subs["result"]] == ["华东一组", "华北一组"]
    assert [(u["userid"], u["leader"]) for u in first["result"]["list"]] == [(MANAGER, True)]
    assert first["result"]["has_more"] and first["result"]["next_cursor"] == 1
    assert [(u["userid"], u["leader"]) for u in rest["result"]["list"]] == [(REP, False)]
    assert not rest["result"]["has_more"]
    assert rep["result"]["manager_userid"] == MANAGER
    assert report["errcode"] == 0 and fake.reports[0]["contents"][0]["content"] == "拜访华东医疗"
    assert bad_app == {
        "errcode": 40096,
        "errmsg": "不合法的appKey或appSecret",
        "request_id": bad_app["request_id"],
    }
    assert (expired["errcode"], expired["sub_code"]) == (88, "40014")


def test_gateway_checks_credentials_and_single_use_tickets(fake: FakeDingTalk) -> None:
    wrong = httpx.post(fake.open_connection_url, json={"clientId": fake.client_id, "clientSecret": "x"})
    opened = httpx.post(
        fake.open_connection_url,
        json={"clientId": fake.client_id, "clientSecret": fake.client_secret, "subscriptions": []},
    ).json()
    url = f"{opened['endpoint']}?ticket={opened['ticket']}"
    with websockets.sync.client.connect(url):
        fake.wait_for_connection()
    with pytest.raises(InvalidStatus) as reused:
        websockets.sync.client.connect(url)
    assert wrong.status_code == 400
    assert reused.value.response.status_code == 401


def test_builders_match_what_the_sdk_parses(fake: FakeDingTalk) -> None:
    picture = ChatbotMessage.from_dict(fake.chatbot_picture(REP, b"png-bytes"))
    rich = ChatbotMessage.from_dict(fake.chatbot_rich_text(REP, ["合同", b"page-1", "见附件"]))
    audio = ChatbotMessage.from_dict(fake.chatbot_audio(REP, "明天拜访华东医疗"))
    file = ChatbotMessage.from_dict(fake.chatbot_file(REP, "回款凭证.pdf", b"%PDF receipt"))
    group = ChatbotMessage.from_dict(fake.chatbot_text(MANAGER, "排行榜", conversation_type="2"))
    assert rich.get_text_list() == ["合同", "见附件"] and len(rich.get_image_list()) == 1
    assert audio.extensions["content"]["recognition"] == "明天拜访华东医疗"
    assert file.extensions["content"]["fileName"] == "回款凭证.pdf"
    assert group.is_in_at_list and group.at_users[0].dingtalk_id == group.chatbot_user_id
    assert group.conversation_id == fake.group_conversation_id and group.conversation_title
    headers = {"x-acs-dingtalk-access-token": api_token(fake)}

    def download(code: str) -> bytes:
        found = httpx.post(
            fake.api_base + "/v1.0/robot/messageFiles/download",
            headers=headers,
            json={"downloadCode": code, "robotCode": fake.robot_code},
        )
        return httpx.get(found.json()["downloadUrl"]).content

    assert download(picture.image_content.download_code) == b"png-bytes"
    assert download(file.extensions["content"]["downloadCode"]) == b"%PDF receipt"


SDK_PROCESS = """
import asyncio, sys
from dingtalk_stream import AckMessage, ChatbotHandler, ChatbotMessage, Credential, DingTalkStreamClient

class Echo(ChatbotHandler):
    async def process(self, callback):
        return AckMessage.STATUS_OK, ChatbotMessage.from_dict(callback.data).text.content

client = DingTalkStreamClient(Credential(sys.argv[1], sys.argv[2]))
client.register_callback_handler(ChatbotMessage.TOPIC, Echo())
asyncio.run(client.start())
"""


def test_env_var_redirects_a_fresh_process(fake: FakeDingTalk) -> None:
    """The unmodified SDK reaches the fake too, by its own env var read at import (liuhen needs no env var)."""
    process = subprocess.Popen(
        [sys.executable, "-c", SDK_PROCESS, fake.client_id, fake.client_secret],
        env={**os.environ, "DINGTALK_OPENAPI_ENDPOINT": fake.api_base},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        fake.wait_for_connection(timeout=20)
        ack = fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(REP, "你好")))
    finally:
        process.terminate()
        process.wait(10)
    assert json.loads(ack["data"]) == {"response": "你好"}
    assert (
        fake.calls(OPEN_CONNECTION_PATH)[0].headers["user-agent"].startswith("DingTalkStream/1.0 SDK/0.24.3")
    )
