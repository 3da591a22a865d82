"""DingTalk's documented limits and error codes (issue 15), against the strict fake: throttled robot sends,
cards within 1 KB per value, the monthly OpenAPI quota, `active` in user/list, and `api_base` for the Stream."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dingtalk_stream import DingTalkStreamClient
from sqlmodel import Session, select

from bot import cards
from bot.cards import Button, Card, Reply
from bot.channels.dingtalk_api import DingTalkApi, DingTalkApiError
from bot.channels.dingtalk_org import sync_org
from store.db import session_scope
from store.models import Alert, Outbox, User
from tests.fakes.dingtalk_gateway import (
    CARD_PARAM_MAX_BYTES,
    DEFAULT_DEPARTMENTS,
    DEFAULT_USERS,
    OAPI_BUSY_ERRCODE,
    ROBOT_THROTTLE_CODES,
    quota_body,
    throttle_body,
)
from tests.test_dingtalk import stream  # noqa: F401 (fixture)
from tests.test_dingtalk_delivery import BATCH, LILEI, fake, queue, row, settings  # noqa: F401 (fixtures)

CREATE = "/v1.0/card/instances/createAndDeliver"


# -- 2. throttled robot sends wait and are delivered; only what is truly permanent fails ----------------------

@pytest.mark.parametrize("code", [*ROBOT_THROTTLE_CODES, "systemError"])
def test_a_throttled_or_busy_robot_send_waits_and_is_delivered_once(runtime, fake, code):
    fake.fail_next(BATCH, 400, body=None if code == "systemError" else throttle_body(code))  # the fake's systemError
    row_id = queue(runtime, Reply.say("你好", to_user="lilei"))
    runtime.dispatcher.run_once()
    waiting = row(runtime, row_id)
    assert waiting.status == "pending" and code in waiting.last_error and fake.robot_messages(LILEI) == []
    runtime.clock.advance(waiting.next_attempt_at - runtime.clock.now())
    runtime.dispatcher.run_once()
    assert row(runtime, row_id).status == "sent" and len(fake.robot_messages(LILEI)) == 1


def test_a_robot_send_refused_for_a_bad_parameter_still_fails_for_good(runtime, fake):
    fake.fail_next(BATCH, 400, body={"code": "invalidParameter.msgKey.invalid", "message": "msgKey不合法"})
    row_id = queue(runtime, Reply.say("你好", to_user="lilei"))
    runtime.dispatcher.flush()
    failed = row(runtime, row_id)
    assert failed.status == "failed" and "msgKey不合法" in failed.last_error


def test_oapi_busy_backs_off_and_the_spent_quota_is_recognised_on_oapi_too(runtime, fake):
    api = DingTalkApi(runtime.settings.dingtalk, runtime.engine, runtime.clock)
    fake.fail_next("/topapi/v2/user/list", 200, body={"errcode": OAPI_BUSY_ERRCODE, "errmsg": "服务繁忙"})
    fake.fail_next("/topapi/v2/user/list", 200, body=quota_body("oapi"))
    page = {"dept_id": 1, "cursor": 0, "size": 10}
    with pytest.raises(DingTalkApiError) as busy:
        api.oapi("/topapi/v2/user/list", json=page)
    with pytest.raises(DingTalkApiError) as spent:
        api.oapi("/topapi/v2/user/list", json=page)
    api.close()
    assert (busy.value.retry_after, busy.value.permanent, busy.value.quota_exceeded) == (2.0, False, False)
    assert (spent.value.retry_after, spent.value.permanent, spent.value.quota_exceeded) == (3600.0, False, True)


# -- 3. every cardParamMap value within 1 KB: the help card's long content spills into markdown ---------------

def test_a_card_over_1kb_arrives_whole_as_a_card_and_a_markdown_follow_up(runtime, fake):
    lines = [f"第 {n} 行：华东医疗器械有限公司的跟进记录，报价与竞品情况" for n in range(60)]
    row_id = queue(runtime, Reply.show(Card("长卡片", lines=lines), to_user="lilei"))
    runtime.dispatcher.flush()
    assert row(runtime, row_id).status == "sent"
    [card] = fake.cards.values()
    assert all(len(value.encode()) <= CARD_PARAM_MAX_BYTES for value in card["card_data"].values())
    assert card["card_data"]["content"].endswith("（内容较长，其余见下一条消息）")
    follow_ups = [m["msgParam"] for m in fake.robot_messages(LILEI)]
    assert follow_ups and all(m["title"] == "长卡片（续）" for m in follow_ups)
    shown = card["card_data"]["content"] + "".join(m["text"] for m in follow_ups)
    assert [line for line in lines if line not in shown] == []  # nothing lost


def test_a_handlers_long_card_update_is_cut_to_fit_as_it_sends_no_follow_up(runtime, fake):
    shown = queue(runtime, Reply.show(Card("升级提醒", buttons=[Button("已跟进", "x:done")]), to_user="lilei"), "a")
    runtime.dispatcher.flush()
    ref = row(runtime, shown).platform_ref
    lines = [f"第 {n} 行：处理结果与后续安排" for n in range(80)]
    with session_scope(runtime.engine) as session:
        update = cards.queue(session, Reply.update(Card("✅ 已跟进", lines=lines)), dedupe_key="b",
                             now=runtime.clock.now(), channel="dingtalk", platform_user=LILEI, update_ref=ref)
    runtime.dispatcher.flush()
    content = fake.cards[ref]["card_data"]["content"]
    assert row(runtime, update).status == "sent" and content.startswith(lines[0]) and content.endswith("…")
    assert len(content.encode()) <= CARD_PARAM_MAX_BYTES and fake.robot_messages(LILEI) == []


def test_the_help_card_fits_dingtalks_limit(runtime, fake, stream):
    fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(LILEI, "帮助")))
    runtime.work_once()
    [created] = [c for c in fake.calls(CREATE)]
    assert created.status == 200, created.response
    [card] = fake.cards.values()
    assert card["card_data"]["title"] == "留痕 · 可用命令"
    assert all(len(value.encode()) <= CARD_PARAM_MAX_BYTES for value in card["card_data"].values())
    [rest] = fake.robot_messages(LILEI)  # the commands that did not fit, right after the card
    assert rest["msgParam"]["title"] == "留痕 · 可用命令（续）" and "自动记为有效触达" in rest["msgParam"]["text"]


def test_buttons_that_cannot_fit_are_refused_with_a_reason_and_nothing_half_sent(runtime, fake):
    buttons = [Button(f"按钮{n}" * 5, f"x:{n}") for n in range(20)]
    row_id = queue(runtime, Reply.show(Card("很多按钮", buttons=buttons), to_user="lilei"))
    runtime.dispatcher.flush()
    failed = row(runtime, row_id)
    assert failed.status == "failed" and "buttons" in failed.last_error and "1KB" in failed.last_error
    assert fake.cards == {} and fake.robot_messages(LILEI) == []


# -- 4. org sync: `active` is "has activated DingTalk"; who is missing from a full sync has left -------------

def test_an_invited_rep_who_has_not_activated_is_not_a_leaver_and_a_missing_member_is(runtime, fake):
    invited = [{**u, "active": False} if u["userid"] == "0202" else u for u in DEFAULT_USERS]
    fake.set_org(DEFAULT_DEPARTMENTS, invited)
    api = DingTalkApi(runtime.settings.dingtalk, runtime.engine, runtime.clock)
    with session_scope(runtime.engine) as session:
        sync_org(api, session, now=runtime.clock.now())
    fake.set_org(DEFAULT_DEPARTMENTS, [u for u in invited if u["userid"] != "0123"])  # 李雷 left
    with session_scope(runtime.engine) as session:
        summary = sync_org(api, session, now=runtime.clock.now())
    api.close()
    with Session(runtime.engine) as session:
        active = {u.dingtalk_userid: u.active for u in session.exec(select(User)).all() if u.dingtalk_userid}
    assert active["0202"] is True and active["0123"] is False and summary.left == 1


# -- 5. the Stream opens at `api_base`, and the SDK's own constant is left as it is --------------------------

def test_the_stream_connects_at_api_base_without_touching_the_sdk(runtime, fake, stream):
    assert DingTalkStreamClient.OPEN_CONNECTION_API == "https://api.dingtalk.com/v1.0/gateway/connections/open"
    assert fake.calls("/v1.0/gateway/connections/open")[0].status == 200


# -- 6. the monthly OpenAPI quota: messages wait, the admin is told once -------------------------------------

def test_the_spent_monthly_quota_waits_and_alerts_the_admin_once(runtime, fake):
    fake.fail_next(BATCH, 403, body=quota_body())
    first = queue(runtime, Reply.say("一", to_user="lilei"), "a")
    queue(runtime, Reply.say("二", to_user="lilei"), "b")
    runtime.dispatcher.flush()
    waiting = row(runtime, first)
    assert waiting.status == "pending" and "ApiCountLimitForOrg" in waiting.last_error
    assert waiting.next_attempt_at - runtime.clock.now() == timedelta(hours=1)
    assert fake.robot_messages(LILEI) == [] and len(fake.calls(BATCH)) == 1  # the rest wait without calling
    with Session(runtime.engine) as session:
        [alert] = session.exec(select(Alert).where(Alert.kind == "platform_quota")).all()
        notices = [r for r in session.exec(select(Outbox)).all() if r.payload.get("text") == alert.message]
    assert "调用量已用完" in alert.message and [n.user_id for n in notices] == ["boss"]
    assert runtime.metrics.platform_quota_exceeded.labels("dingtalk")._value.get() == 1
    runtime.clock.advance(timedelta(hours=1))
    fake.fail_next(BATCH, 403, body=quota_body())  # still spent an hour later: no second alert
    runtime.dispatcher.flush()
    with Session(runtime.engine) as session:
        assert len(session.exec(select(Alert).where(Alert.kind == "platform_quota")).all()) == 1
    runtime.clock.advance(timedelta(hours=1))
    runtime.dispatcher.flush()
    assert {m["msgParam"]["content"] for m in fake.robot_messages(LILEI)} == {"一", "二"}
