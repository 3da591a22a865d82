"""Where wechatpy and dingtalk-stream fall short, and the guard we keep instead — each test fails without it."""

from __future__ import annotations

import hmac
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.cards import Reply
from bot.channels.wecom_api import WeComApi
from tests.reliability.outbound_helpers import (
    BATCH,
    HANG,
    LILEI_DINGTALK,
    both_settings,
    dingtalk,  # noqa: F401 — fixture
    dingtalk_texts,
    drain,
    queue,
    wecom,  # noqa: F401 — fixture
    wecom_texts,
    with_short_timeouts,
)
from tests.wecom_helpers import URL, inbox, outbox, sender_for, signed


@pytest.fixture
def settings(db_url, wecom, dingtalk):
    return both_settings(db_url, wecom, dingtalk)


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


# -- wechatpy compares signatures with `!=`: ours is constant-time ------------------------------------------------

@pytest.mark.parametrize("bad", ["0" * 40, "abc", "", "签名" * 20, "é" * 40])
def test_wrong_short_empty_and_unicode_signatures_are_refused_and_nothing_is_stored(client, runtime, wecom, bad):
    sender = sender_for(wecom)
    params, body = signed(sender, runtime.clock, sender.text_xml("lilei", "帮助"))
    assert client.post(URL, params={**params, "msg_signature": bad}, content=body).status_code == 403
    verify = sender.url_verify_params("echo", timestamp=int(runtime.clock.now().timestamp()))
    assert client.get(URL, params={**verify, "msg_signature": bad}).status_code == 403
    assert inbox(runtime.engine) == []


def test_the_signature_check_is_hmac_compare_digest(client, runtime, wecom, monkeypatch):
    compared: list[tuple[bytes | str, bytes | str]] = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    sender = sender_for(wecom)
    params, body = signed(sender, runtime.clock, sender.text_xml("lilei", "帮助"))
    assert client.post(URL, params=params, content=body).status_code == 200
    assert client.post(URL, params={**params, "msg_signature": "f" * 40}, content=body).status_code == 403
    assert [b for _, b in compared] == [params["msg_signature"].encode(), b"f" * 40]


# -- wechatpy has no default timeout: every client of ours has one --------------------------------------------------

@pytest.mark.parametrize("platform", ["wecom", "dingtalk"])
def test_a_hung_platform_times_out_records_the_error_and_delivers_once_later(runtime, wecom, dingtalk, platform):
    with_short_timeouts(runtime)
    if platform == "wecom":
        wecom.delay_next("message/send", HANG)
        wecom.fail_next("message/send", http_status=504)  # the hung request never reaches the member
        received = lambda: wecom_texts(wecom)  # noqa: E731
    else:
        dingtalk.hang_next(BATCH, HANG)
        received = lambda: dingtalk_texts(dingtalk)  # noqa: E731
    [row_id] = queue(runtime, platform, Reply.say("卡住也要送到", to_user="lilei"))
    runtime.dispatcher.run_once()
    [row] = outbox(runtime.engine)
    assert (row.status, row.attempts) == ("pending", 1) and "ReadTimeout" in row.last_error
    assert received() == []
    drain(runtime, rounds=3)
    [row] = outbox(runtime.engine)
    assert received() == ["卡住也要送到"] and (row.status, row.attempts) == ("sent", 2)


# -- one access token cache (bot/channels/access_token.py), shared through the database ----------------------------

def test_processes_share_the_wecom_token_through_the_database(runtime, wecom):
    first = WeComApi(runtime.settings.wecom, runtime.engine, runtime.clock)
    second = WeComApi(runtime.settings.wecom, runtime.engine, runtime.clock)  # another process, same database
    assert first.token() == second.token() and len(wecom.calls("gettoken")) == 1
    runtime.clock.advance(timedelta(seconds=7200 - 299))  # inside the last five minutes: both renew, once
    assert first.token() == second.token() and len(wecom.calls("gettoken")) == 2
    first.close()
    second.close()


# -- dingtalk-stream's reply_* ignore error bodies: we send through the OpenAPI and check the answer ----------------

def test_replies_to_a_dingtalk_message_go_through_the_openapi_not_the_session_webhook(runtime, dingtalk):
    runtime.dingtalk.listen(runtime.inbox.ingest_many, runtime.wake)
    try:
        dingtalk.wait_for_connection()
        dingtalk.wait_for_ack(dingtalk.deliver_chatbot(dingtalk.chatbot_text(LILEI_DINGTALK, "取消")))
        runtime.work_once()
    finally:
        runtime.dingtalk.close()
    assert dingtalk_texts(dingtalk) == ["当前没有进行中的操作。"] and dingtalk.session_replies() == []


@pytest.mark.parametrize(("body", "shown"), [
    ({"code": "Forbidden.Unauthorized", "message": "机器人未开通", "requestid": "r1"}, "机器人未开通"),
    ({"errcode": 400002, "errmsg": "robot send failed", "processQueryKey": "q1"}, "400002"),
    ({"success": False, "processQueryKey": "q2"}, "返回错误"),
], ids=["code", "errcode", "success-false"])
def test_an_error_body_in_an_http_200_is_a_failure_and_is_retried(runtime, dingtalk, body, shown):
    dingtalk.fail_next(BATCH, 200, body=body)
    queue(runtime, "dingtalk", Reply.say("第二次才到", to_user="lilei"))
    runtime.dispatcher.run_once()
    [row] = outbox(runtime.engine)
    assert (row.status, row.attempts) == ("pending", 1) and shown in row.last_error
    assert dingtalk_texts(dingtalk) == []
    drain(runtime, rounds=2)
    [row] = outbox(runtime.engine)
    assert dingtalk_texts(dingtalk) == ["第二次才到"] and row.status == "sent"
