"""Per-recipient throttle: never more than the platform's per-minute limit to one member or group; the excess
arrives once, folded into a digest."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.cards import Button, Card, Reply
from bot.channels.dingtalk import PER_RECIPIENT_PER_MINUTE
from bot.channels.wecom import PER_MEMBER_PER_MINUTE
from tests.reliability.outbound_helpers import (
    both_settings,
    dingtalk,  # noqa: F401 — fixture
    dingtalk_texts,
    item_counts,
    queue,
    reminders,
    wecom,  # noqa: F401 — fixture
    wecom_texts,
)

SECOND = timedelta(seconds=1)


@pytest.fixture
def settings(db_url, wecom, dingtalk):
    return both_settings(db_url, wecom, dingtalk)


def max_in_any_minute(stamps: list[datetime]) -> int:
    """The most messages inside any half-open 60-second window."""
    return max((sum(1 for s in stamps if start <= s < start + timedelta(minutes=1)) for start in stamps), default=0)


def run_burst(runtime, channel, received, to, count):
    """One reminder queued per second for `count` seconds, the dispatcher running every second; then two quiet
    minutes. Returns the clock time at which each platform message arrived."""
    stamps: list[datetime] = []
    contents = reminders(count)

    def tick():
        before = len(received())
        runtime.dispatcher.run_once()
        stamps.extend([runtime.clock.now()] * (len(received()) - before))
        runtime.clock.advance(SECOND)

    for content in contents:
        queue(runtime, channel, Reply.say(content, **to))
        tick()
    for _ in range(120):
        tick()
    return contents, stamps


@pytest.mark.parametrize("platform", ["wecom", "dingtalk_group"])
def test_a_burst_to_one_recipient_stays_under_the_limit_and_every_item_arrives_once(runtime, wecom, dingtalk,
                                                                                    platform):
    if platform == "wecom":
        limit, to, received = PER_MEMBER_PER_MINUTE, {"to_user": "lilei"}, lambda: wecom_texts(wecom)
    else:
        limit, to = PER_RECIPIENT_PER_MINUTE, {"to_chat": dingtalk.group_conversation_id}
        received = lambda: dingtalk_texts(dingtalk, None, dingtalk.group_conversation_id)  # noqa: E731
    contents, stamps = run_burst(runtime, platform.split("_")[0], received, to, count=45)
    texts = received()
    assert max_in_any_minute(stamps) <= limit
    assert item_counts(texts) == {content.split("：")[0]: 1 for content in contents}  # nothing lost, nothing twice
    [digest] = [text for text in texts if text.startswith("另有")]
    assert digest.startswith(f"另有 {45 - limit} 条提醒") and len(texts) == limit + 1


def test_the_limit_is_per_recipient(runtime, wecom):
    queue(runtime, "wecom", *(Reply.say(c, to_user="lilei") for c in reminders(30)))
    queue(runtime, "wecom", *(Reply.say(c, to_user="zhangwei") for c in reminders(5, start=30)))
    runtime.dispatcher.run_once()
    assert len(wecom_texts(wecom)) == 30 and len(wecom_texts(wecom, "zhangwei")) == 5


def test_a_card_with_buttons_waits_for_room_instead_of_losing_them_in_a_digest(runtime, wecom):
    queue(runtime, "wecom", *(Reply.say(c, to_user="lilei") for c in reminders(PER_MEMBER_PER_MINUTE)))
    card = Card("商机推进", lines=["华东医疗"], buttons=[Button("确认", "deal:ok")])
    queue(runtime, "wecom", Reply.show(card, to_user="lilei"), Reply.say(reminders(1, start=99)[0], to_user="lilei"))
    runtime.dispatcher.run_once()
    assert wecom.sent_messages(touser="lilei", msgtype="template_card") == []
    runtime.clock.advance(timedelta(seconds=59))
    runtime.dispatcher.run_once()
    assert wecom.sent_messages(touser="lilei", msgtype="template_card") == []
    runtime.clock.advance(SECOND)
    runtime.dispatcher.run_once()
    [sent] = wecom.sent_messages(touser="lilei", msgtype="template_card")
    assert sent["template_card"]["main_title"]["title"] == "商机推进"
    assert item_counts(wecom_texts(wecom))["提醒#099"] == 1



def test_parts_sent_before_a_failure_count_against_the_minute(runtime, wecom):
    long_text = "甲" * 682 + "乙" * 682 + "丙" * 682  # three WeCom text messages
    wecom.fail_next("message/send", http_status=502, after=1)  # its second part is refused once
    queue(runtime, "wecom", Reply.say(long_text, to_user="lilei"))
    queue(runtime, "wecom", *(Reply.say(c, to_user="lilei") for c in reminders(PER_MEMBER_PER_MINUTE - 2)))
    runtime.dispatcher.run_once()
    assert len(wecom_texts(wecom)) == PER_MEMBER_PER_MINUTE - 1  # the first part and 28 reminders
    runtime.clock.advance(timedelta(seconds=10))  # the retry is due, but two more parts would make 31
    runtime.dispatcher.run_once()
    assert len(wecom_texts(wecom)) == PER_MEMBER_PER_MINUTE - 1
    runtime.clock.advance(timedelta(seconds=50))
    runtime.dispatcher.run_once()
    texts = wecom_texts(wecom)
    assert [t for t in texts if t[0] in "甲乙丙"] == ["甲" * 682, "乙" * 682, "丙" * 682]
    assert item_counts(texts) == {c.split("：")[0]: 1 for c in reminders(PER_MEMBER_PER_MINUTE - 2)}
