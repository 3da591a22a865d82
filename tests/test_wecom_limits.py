"""WeCom's documented limits as the product meets them: markdown size, permanent refusals, the hourly cap."""

import logging
from datetime import timedelta

from sqlmodel import Session, select

from bot import cards
from bot.cards import Reply
from store import outbox as store_outbox
from store.models import Alert, Outbox
from tests.wecom_helpers import fake, outbox, settings  # noqa: F401 (fixtures)


def queue(runtime, reply, key="r"):
    with Session(runtime.engine) as session:
        cards.queue(session, reply, dedupe_key=key, now=runtime.clock.now(), channel="wecom")
        session.commit()


def test_markdown_is_split_at_wecoms_2048_byte_app_limit(runtime, fake):
    lines = [f"第{n:03d}行：客户拜访记录，方案演示与报价沟通。" for n in range(120)]  # ≈ 7 KB of UTF-8
    text = "\n".join(lines)
    queue(runtime, Reply.markdown(text, to_user="lilei"))
    runtime.dispatcher.run_once()
    sent = [m["markdown"]["content"] for m in fake.sent_messages(touser="lilei", msgtype="markdown")]
    assert len(sent) == 4 and all(len(piece.encode()) <= 2048 for piece in sent)
    assert "\n".join(sent) == text  # cut at line breaks, nothing lost
    assert [c.errcode for c in fake.calls("message/send")] == [0] * 4
    [row] = outbox(runtime.engine)
    assert row.status == "sent" and len(row.platform_ref.split(",")) == 4


def test_40058_is_permanent_with_its_reason_logged(runtime, fake, caplog):
    fake.fail_next("message/send", 40058, errmsg="markdown.content exceed max length 2048")
    queue(runtime, Reply.markdown("**周报**", to_user="lilei"))
    with caplog.at_level(logging.ERROR, logger="bot.channels.wecom_api"):
        runtime.dispatcher.run_once()
    [row] = outbox(runtime.engine)
    assert (row.status, row.attempts) == ("failed", 1) and "40058" in row.last_error
    assert "2048 字节" in row.last_error and "2048 字节" in caplog.text


def test_60020_untrusted_ip_is_permanent_and_says_where_to_fix_it(runtime, fake, caplog):
    fake.refuse_untrusted_ip()
    queue(runtime, Reply.say("你好", to_user="lilei"))
    with caplog.at_level(logging.ERROR, logger="bot.channels.wecom_api"):
        runtime.dispatcher.run_once()
    [row] = outbox(runtime.engine)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "企业可信IP" in row.last_error and "企业可信IP" in caplog.text
    assert fake.sent_messages() == []


def test_a_member_with_1000_messages_in_the_last_hour_waits_for_the_oldest_to_age_out(runtime, fake):
    """17 a minute stays under the per-minute cap of 30, yet 1000 in an hour reaches the hourly one."""
    now = runtime.clock.now()
    first = now - timedelta(minutes=59)
    with Session(runtime.engine) as session:
        for n in range(1000):
            at = first + timedelta(seconds=3.5 * n)
            row_id = store_outbox.enqueue(session, dedupe_key=f"old:{n}", kind="text", payload={"text": "旧"},
                                          now=at, channel="wecom", user_id="lilei", platform_user="lilei")
            store_outbox.mark_sent(session, session.get(Outbox, row_id), now=at, platform_ref="m",
                                   messages=1)
        session.commit()
    queue(runtime, Reply.say("第 1001 条", to_user="lilei"))
    runtime.dispatcher.run_once()
    assert fake.sent_messages() == []
    runtime.clock.advance(timedelta(minutes=1, seconds=1))  # the first of the 1000 is now over an hour old
    runtime.dispatcher.run_once()
    [sent] = fake.sent_messages(touser="lilei")
    assert "第 1001 条" in sent["text"]["content"]


def seed_sent(runtime, count, *, to="hanmeimei", prefix="day"):
    """`count` member-messages WeCom accepted a minute ago."""
    at = runtime.clock.now() - timedelta(minutes=1)
    with Session(runtime.engine) as session:
        for n in range(count):
            row_id = store_outbox.enqueue(session, dedupe_key=f"{prefix}:{n}", kind="text", payload={"text": "旧"},
                                          now=at, channel="wecom", platform_user=to)
            store_outbox.mark_sent(session, session.get(Outbox, row_id), now=at, platform_ref="m", messages=1)
        session.commit()


def test_near_the_daily_cap_the_admins_are_warned_once_and_metrics_show_it(runtime, fake):
    """Three members on WeCom: the cap is 600 member-messages a day, the warning comes at 480."""
    seed_sent(runtime, 470)
    queue(runtime, Reply.say("一", to_user="lilei"), key="a")
    runtime.dispatcher.run_once()
    with Session(runtime.engine) as session:
        assert session.exec(select(Alert)).all() == []
    runtime.refresh_gauges()
    assert runtime.metrics.registry.get_sample_value("liuhen_wecom_daily_cap") == 600
    assert runtime.metrics.registry.get_sample_value("liuhen_wecom_daily_sent") == 470

    seed_sent(runtime, 10, prefix="more")
    runtime.clock.advance(timedelta(minutes=5))
    queue(runtime, Reply.say("二", to_user="lilei"), key="b")
    runtime.dispatcher.run_once()
    runtime.clock.advance(timedelta(minutes=5))
    queue(runtime, Reply.say("三", to_user="lilei"), key="c")
    runtime.dispatcher.run_once()
    with Session(runtime.engine) as session:
        [alert] = session.exec(select(Alert)).all()
    assert alert.kind == "wecom_daily_cap" and "600" in alert.message
    warnings = [r for r in outbox(runtime.engine) if r.user_id == "boss"]
    assert [r.payload["text"] for r in warnings] == [alert.message]  # once, however many sends follow
    runtime.refresh_gauges()
    assert runtime.metrics.registry.get_sample_value("liuhen_wecom_daily_sent") == 482
