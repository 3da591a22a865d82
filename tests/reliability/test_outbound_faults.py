"""Nothing lost, nothing twice: what was queued against what each fake platform accepted, under upstream faults.

The one promise we cannot make: a send that times out after the platform acted on it is sent again (neither
WeCom's message/send nor DingTalk's robot send takes an idempotency key), so exactly that message may arrive
twice — at-least-once. Every other failure is known not to have delivered, and its retry delivers exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.cards import Reply
from tests.reliability.outbound_helpers import (
    BATCH,
    HANG,
    LILEI_DINGTALK,
    both_settings,
    dingtalk,  # noqa: F401 — fixture
    dingtalk_texts,
    drain,
    item_counts,
    queue,
    reminders,
    wecom,  # noqa: F401 — fixture
    wecom_texts,
    with_short_timeouts,
)
from tests.wecom_helpers import outbox

SEND = "message/send"


@pytest.fixture
def settings(db_url, wecom, dingtalk):
    return both_settings(db_url, wecom, dingtalk)


def send_wecom(runtime, contents):
    queue(runtime, "wecom", *(Reply.say(c, to_user="lilei") for c in contents))


def send_dingtalk(runtime, contents):
    queue(runtime, "dingtalk", *(Reply.say(c, to_user="lilei") for c in contents))


def exactly_once(contents):
    return Counter({c.split("：")[0]: 1 for c in contents})


def test_upstream_500s_on_both_platforms_deliver_each_message_exactly_once(runtime, wecom, dingtalk):
    wecom.fail_next(SEND, http_status=500, times=7)
    wecom.fail_next(SEND, http_status=502, after=2, times=2)
    dingtalk.fail_next(BATCH, 500, times=7)
    dingtalk.fail_next(BATCH, 503, times=2)
    contents = reminders(6)
    send_wecom(runtime, contents)
    send_dingtalk(runtime, contents)
    drain(runtime, rounds=15)
    assert item_counts(wecom_texts(wecom)) == exactly_once(contents)
    assert item_counts(dingtalk_texts(dingtalk)) == exactly_once(contents)
    assert {r.status for r in outbox(runtime.engine)} == {"sent"}


@pytest.mark.parametrize("platform", ["wecom", "dingtalk"])
def test_a_timeout_after_delivery_is_retried_and_is_the_only_duplicate(runtime, wecom, dingtalk, platform):
    with_short_timeouts(runtime)
    if platform == "wecom":
        wecom.hang_after_delivery(SEND, HANG)  # the first send is acted on, its answer comes too late
        send, received = send_wecom, lambda: wecom_texts(wecom)
    else:
        dingtalk.hang_next(BATCH, HANG, after_delivery=True)
        send, received = send_dingtalk, lambda: dingtalk_texts(dingtalk)
    contents = reminders(4)
    send(runtime, contents)
    runtime.dispatcher.run_once()
    first = outbox(runtime.engine)[0]
    assert first.status == "pending" and "Timeout" in first.last_error and first.attempts == 1
    drain(runtime, rounds=3)
    timed_out = contents[0].split("：")[0]
    assert item_counts(received()) == exactly_once(contents) + Counter({timed_out: 1})  # at-least-once, no more
    assert [(r.status, r.platform_ref is not None) for r in outbox(runtime.engine)] == [("sent", True)] * 4


def test_a_token_expired_once_is_refreshed_once_and_the_message_delivered_once(runtime, wecom):
    wecom.expire_tokens()
    send_wecom(runtime, reminders(1))
    runtime.dispatcher.run_once()  # first token fetched fresh: no 42001 yet
    wecom.expire_tokens()
    send_wecom(runtime, reminders(1, start=1))
    runtime.dispatcher.run_once()
    assert item_counts(wecom_texts(wecom)) == exactly_once(reminders(2))
    assert [c.errcode for c in wecom.calls(SEND)] == [0, 42001, 0] and len(wecom.calls("gettoken")) == 2
    assert [(r.status, r.attempts) for r in outbox(runtime.engine)] == [("sent", 1)] * 2


def test_a_token_refused_forever_ends_after_the_attempt_limit_with_a_bounded_number_of_calls(runtime, wecom):
    wecom.fail_forever(SEND, 42001)
    send_wecom(runtime, reminders(1))
    drain(runtime, rounds=30, step=timedelta(hours=1))
    [row] = outbox(runtime.engine)
    limit = runtime.dispatcher.max_attempts
    assert (row.status, row.attempts) == ("failed", limit) and "42001" in row.last_error
    assert len(wecom.calls(SEND)) == 2 * limit  # one refresh and one retry per attempt, never a loop
    assert len(wecom.calls("gettoken")) <= limit + 1
    with TestClient(create_app(runtime, start_workers=False)) as client:
        assert 'liuhen_outbox_failed_total{channel="wecom"} 1.0' in client.get("/metrics").text
    assert wecom_texts(wecom) == []


def test_a_dingtalk_token_refused_forever_is_bounded_too(runtime, dingtalk):
    refused = {"code": "InvalidAuthentication", "message": "不合法的access_token"}
    dingtalk.fail_next(BATCH, 400, times=1000, body=refused)
    send_dingtalk(runtime, reminders(1))
    drain(runtime, rounds=30, step=timedelta(hours=1))
    [row] = outbox(runtime.engine)
    assert (row.status, row.attempts) == ("failed", runtime.dispatcher.max_attempts)
    assert len(dingtalk.calls(BATCH)) == 2 * runtime.dispatcher.max_attempts


def test_wecom_rate_limit_storms_back_off_without_spending_attempts(runtime, wecom):
    wecom.fail_next(SEND, 45009, times=4)
    wecom.fail_next(SEND, 45033, after=3, times=3)
    contents = reminders(10)
    send_wecom(runtime, contents)
    drain(runtime, rounds=20, step=timedelta(seconds=30))
    assert item_counts(wecom_texts(wecom)) == exactly_once(contents)
    assert [(r.status, r.attempts) for r in outbox(runtime.engine)] == [("sent", 1)] * 10
    assert len(wecom.calls(SEND)) == 10 + 7  # one probe per pause, never a burst into the limit


def test_dingtalk_throttling_storms_back_off_without_spending_attempts(runtime, dingtalk):
    dingtalk.fail_next(BATCH, 403, times=12)  # QpsLimit, far more often than the attempt limit
    dingtalk.fail_next(BATCH, 429, times=3)
    contents = reminders(5)
    send_dingtalk(runtime, contents)
    drain(runtime, rounds=40, step=timedelta(seconds=2))
    assert item_counts(dingtalk_texts(dingtalk)) == exactly_once(contents)
    assert [(r.status, r.attempts) for r in outbox(runtime.engine)] == [("sent", 1)] * 5
    assert [m["to"] for m in dingtalk.robot_messages(LILEI_DINGTALK)] == [LILEI_DINGTALK] * 5
