import itertools
from datetime import timedelta

from sqlmodel import Session, select

from bot import cards
from bot.cards import Button, Card, Reply
from bot.events import Event
from store.models import AccessToken, Alert
from tests.wecom_helpers import fake, outbox, settings  # noqa: F401 (fixtures)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
KEYS = itertools.count()


def queue(runtime, *replies, channel="wecom", update_ref=None):
    with Session(runtime.engine) as session:
        for reply in replies:
            cards.queue(session, reply, dedupe_key=f"t:{next(KEYS)}", now=runtime.clock.now(), channel=channel,
                        update_ref=update_ref)
        session.commit()


def drain(runtime, rounds=12, step=timedelta(minutes=2)):
    """Runs the dispatcher as time passes, far enough for every backoff; no real waiting."""
    for _ in range(rounds):
        runtime.dispatcher.run_once()
        runtime.clock.advance(step)


def texts(fake, touser="lilei"):
    return [m["text"]["content"] for m in fake.sent_messages(touser=touser, msgtype="text")]


def test_token_is_fetched_once_shared_in_the_database_and_replaced_when_it_expires(runtime, fake):
    queue(runtime, Reply.say("一", to_user="lilei"), Reply.say("二", to_user="lilei"))
    runtime.dispatcher.run_once()
    fake.expire_tokens()
    queue(runtime, Reply.say("三", to_user="lilei"), Reply.say("四", to_user="lilei"))
    runtime.dispatcher.run_once()
    assert texts(fake) == ["一", "二", "三", "四"]
    assert len(fake.calls("gettoken")) == 2
    assert [(r.status, r.attempts) for r in outbox(runtime.engine)] == [("sent", 1)] * 4
    with Session(runtime.engine) as session:
        [token] = session.exec(select(AccessToken)).all()
    assert token.key == f"wecom:{fake.corp_id}:{fake.agent_id}"
    assert token.token == fake.calls("message/send")[-1].query["access_token"]


def test_a_token_near_expiry_is_refreshed_before_use(runtime, fake):
    queue(runtime, Reply.say("一", to_user="lilei"))
    runtime.dispatcher.run_once()
    runtime.clock.advance(timedelta(seconds=7200 - 299))
    queue(runtime, Reply.say("二", to_user="lilei"))
    runtime.dispatcher.run_once()
    assert len(fake.calls("gettoken")) == 2 and texts(fake) == ["一", "二"]


def test_rate_limit_bursts_pause_the_channel_as_told_and_deliver_each_message_once(runtime, fake):
    fake.fail_next("message/send", 45009, times=3)
    queue(runtime, *(Reply.say(f"第{n}条", to_user="lilei") for n in range(3)))
    runtime.dispatcher.run_once()
    assert texts(fake) == [] and len(fake.calls("message/send")) == 1  # the others wait without calling
    assert {r.next_attempt_at - runtime.clock.now() for r in outbox(runtime.engine)} == {timedelta(seconds=60)}
    runtime.clock.advance(timedelta(seconds=59))
    runtime.dispatcher.run_once()
    assert texts(fake) == []
    for _ in range(3):  # the storm lasts three minutes: one probe a minute
        runtime.clock.advance(timedelta(seconds=60))
        runtime.dispatcher.run_once()
    assert texts(fake) == ["第0条", "第1条", "第2条"] and len(fake.calls("message/send")) == 6
    assert [(r.status, r.attempts) for r in outbox(runtime.engine)] == [("sent", 1)] * 3  # no attempt spent


def test_http_500s_are_retried_with_backoff_until_delivered_once(runtime, fake):
    fake.fail_next("message/send", http_status=500, times=4)
    queue(runtime, Reply.say("稍后送达", to_user="lilei"))
    drain(runtime)
    [row] = outbox(runtime.engine)
    assert texts(fake) == ["稍后送达"] and (row.status, row.attempts) == ("sent", 5)


def test_persistent_non_retryable_errcode_fails_the_message_with_the_code(runtime, fake):
    fake.fail_forever("message/send", 40008)
    queue(runtime, Reply.say("发不出去", to_user="lilei"))
    drain(runtime)
    [row] = outbox(runtime.engine)
    assert row.status == "failed" and row.attempts == 1 and "40008" in row.last_error
    assert runtime.metrics.outbox_failed.labels("wecom")._value.get() == 1


def test_other_errcodes_are_retried_up_to_the_limit_then_failed(runtime, fake):
    fake.fail_forever("message/send", -1)
    queue(runtime, Reply.say("系统繁忙", to_user="lilei"))
    drain(runtime, rounds=20, step=timedelta(hours=2))
    [row] = outbox(runtime.engine)
    assert (row.status, row.attempts) == ("failed", runtime.dispatcher.max_attempts) and "-1" in row.last_error
    assert len(fake.calls("message/send")) == runtime.dispatcher.max_attempts


def test_token_rejected_forever_is_retried_once_per_attempt_never_in_a_loop(runtime, fake):
    fake.fail_forever("message/send", 42001)
    queue(runtime, Reply.say("令牌总是过期", to_user="lilei"))
    runtime.dispatcher.run_once()
    [row] = outbox(runtime.engine)
    assert row.status == "pending" and "42001" in row.last_error
    assert len(fake.calls("message/send")) == 2


def test_bad_secret_fails_after_the_limit_without_hammering_gettoken(runtime, fake):
    fake.secret = "rotated-elsewhere"
    queue(runtime, Reply.say("凭据错误", to_user="lilei"))
    drain(runtime, rounds=20, step=timedelta(hours=2))
    [row] = outbox(runtime.engine)
    assert row.status == "failed" and "40001" in row.last_error
    assert len(fake.calls("gettoken")) == runtime.dispatcher.max_attempts


def test_long_text_is_split_into_ordered_messages_within_the_byte_limit(runtime, fake):
    paragraphs = [f"第{n}段：" + "销售过程留痕。" * 40 for n in range(12)]
    queue(runtime, Reply.say("\n".join(paragraphs), to_user="lilei"))
    runtime.dispatcher.run_once()
    sent = texts(fake)
    assert len(sent) > 1 and all(len(piece.encode()) <= 2048 for piece in sent)
    assert "\n".join(sent) == "\n".join(paragraphs)
    [row] = outbox(runtime.engine)
    assert row.status == "sent" and row.platform_ref.count(",") == len(sent) - 1


def test_a_failed_part_is_resent_alone_and_earlier_parts_are_not_repeated(runtime, fake):
    queue(runtime, Reply.say("甲" * 1000 + "乙" * 1000, to_user="lilei"))
    fake.fail_next("message/send", http_status=502, after=1)  # the second of three parts is refused once
    runtime.dispatcher.run_once()
    assert texts(fake) == ["甲" * 682]
    runtime.clock.advance(timedelta(minutes=1))
    runtime.dispatcher.run_once()
    assert texts(fake) == ["甲" * 682, "甲" * 318 + "乙" * 364, "乙" * 636]
    [row] = outbox(runtime.engine)
    assert (row.status, row.attempts, row.platform_ref.count(",")) == ("sent", 2, 2)


def test_card_is_a_button_interaction_template_card_with_opaque_keys(runtime, fake):
    card = Card(title="商机推进", lines=["华东医疗 · 方案演示"], fields=[("金额", "120万"), ("阶段", "方案")],
                buttons=[Button("确认", "deal:ok", style="primary"), Button("稍后", "deal:later")],
                link=("打开看板", "https://liuhen.example/dash/1"), note="请在今天处理")
    queue(runtime, Reply.show(card, to_user="lilei"))
    runtime.dispatcher.run_once()
    [sent] = fake.sent_messages(touser="lilei", msgtype="template_card")
    content = sent["template_card"]
    [row] = outbox(runtime.engine)
    assert content["card_type"] == "button_interaction" and content["task_id"] == row.payload["card_id"]
    assert content["main_title"] == {"title": "商机推进", "desc": "请在今天处理"}
    assert content["sub_title_text"] == "华东医疗 · 方案演示"
    assert content["horizontal_content_list"] == [{"keyname": "金额", "value": "120万"},
                                                  {"keyname": "阶段", "value": "方案"}]
    assert content["card_action"] == {"type": 1, "url": "https://liuhen.example/dash/1"}
    assert [b["text"] for b in content["button_list"]] == ["确认", "稍后"]
    assert [b["key"] for b in content["button_list"]] == [b["key"] for b in row.payload["card"]["buttons"]]
    assert not any(b["key"].startswith("deal:") for b in content["button_list"])
    msgid, response_code = row.platform_ref.split("|")
    assert msgid and response_code


def test_card_without_buttons_or_link_is_sent_as_markdown(runtime, fake):
    queue(runtime, Reply.show(Card(title="今日小结", lines=["拜访 3 家"], fields=[("有效触达", "5")]), to_user="lilei"))
    runtime.dispatcher.run_once()
    [sent] = fake.sent_messages(touser="lilei", msgtype="markdown")
    assert sent["markdown"]["content"] == "**今日小结**\n拜访 3 家\n有效触达：5"


def test_markdown_and_image_replies(runtime, fake):
    queue(runtime, Reply.markdown("**本周**进展", to_user="lilei"), Reply(kind="image", image=PNG, text="趋势图",
                                                                          to_user="lilei"))
    runtime.dispatcher.run_once()
    assert fake.sent_messages(touser="lilei", msgtype="markdown")[0]["markdown"]["content"] == "**本周**进展"
    [upload] = fake.uploads()
    assert upload.data == PNG and upload.content_type == "image/png"
    [image] = fake.sent_messages(touser="lilei", msgtype="image")
    assert image["image"]["media_id"] == fake.calls("media/upload")[0].response["media_id"]
    assert texts(fake) == ["趋势图"]


def test_invalid_user_in_an_ok_answer_is_a_permanent_failure(runtime, fake):
    queue(runtime, Reply.say("你好", to_user="lilei"))
    fake.set_org([{"id": 1, "name": "总部"}], [{"userid": "other", "name": "其他", "department": [1]}])
    with Session(runtime.engine) as session:  # two recipients: WeCom answers 0 and names the bad one
        row = outbox(runtime.engine)[0]
        session.add(row)
        row.platform_user = "lilei|other"
        session.commit()
    runtime.dispatcher.run_once()
    [row] = outbox(runtime.engine)
    assert row.status == "failed" and "lilei" in row.last_error


def test_rows_without_a_channel_prefer_wecom_over_the_simulator(runtime, fake):
    queue(runtime, Reply.say("自动路由", to_user="lilei"), channel=None)
    runtime.dispatcher.run_once()
    assert texts(fake) == ["自动路由"]


def test_unknown_sender_gets_one_polite_reply_on_wecom_and_admins_an_alert(runtime, fake):
    for n in range(3):
        runtime.inbox.ingest(Event(channel="wecom", msg_id=f"s{n}", sender="wangzong", kind="text", text="你好",
                                   received_at=runtime.clock.now()))
    runtime.work_once()
    [polite] = texts(fake, touser="wangzong")
    assert "还不是「留痕」的注册用户" in polite
    with Session(runtime.engine) as session:
        [alert] = session.exec(select(Alert)).all()
    assert alert.kind == "unknown_user" and "wangzong" in alert.message
    assert [r.user_id for r in outbox(runtime.engine) if r.user_id] == ["boss"]
