"""Long replies cut at each platform's size limit, on character boundaries, in order, and within the throttle."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.cards import Reply
from bot.channels.dingtalk import TEXT_LIMIT as DINGTALK_CHARS
from bot.channels.parts import split_text
from bot.channels.wecom import PER_MEMBER_PER_MINUTE, SIZE_LIMITS
from tests.reliability.outbound_helpers import (
    LILEI_DINGTALK,
    both_settings,
    dingtalk,  # noqa: F401 — fixture
    drain,
    queue,
    wecom,  # noqa: F401 — fixture
)
from tests.wecom_helpers import outbox

# 20 000 characters of 1-, 3- and 4-byte UTF-8 with no line breaks: every cut is a hard one inside the text.
LONG = "销售😀留痕😀客户回访a" * 2000  # 66 000 bytes: more than 30 WeCom text messages


@pytest.fixture
def settings(db_url, wecom, dingtalk):
    return both_settings(db_url, wecom, dingtalk)


@pytest.mark.parametrize("msgtype", ["text", "markdown"])
def test_a_20000_character_reply_reaches_wecom_whole_in_order_within_the_byte_limit(runtime, wecom, msgtype):
    reply = Reply.say(LONG, to_user="lilei") if msgtype == "text" else Reply.markdown(LONG, to_user="lilei")
    queue(runtime, "wecom", reply)
    drain(runtime, rounds=5)
    pieces = [m[msgtype]["content"] for m in wecom.sent_messages(touser="lilei", msgtype=msgtype)]
    assert "".join(pieces) == LONG  # nothing lost, nothing repeated, order kept, no character split
    assert all(len(piece.encode()) <= SIZE_LIMITS[msgtype] for piece in pieces)
    assert len(pieces) == len(split_text(LONG, SIZE_LIMITS[msgtype]))
    assert {r.status for r in outbox(runtime.engine)} == {"sent"}


def test_more_parts_than_a_minute_allows_are_spread_over_minutes_in_order(runtime, wecom):
    queue(runtime, "wecom", Reply.say(LONG, to_user="lilei"))
    runtime.dispatcher.run_once()
    first_minute = wecom.sent_messages(touser="lilei", msgtype="text")
    assert len(first_minute) == PER_MEMBER_PER_MINUTE
    runtime.clock.advance(timedelta(seconds=59))
    runtime.dispatcher.run_once()
    assert len(wecom.sent_messages(touser="lilei", msgtype="text")) == PER_MEMBER_PER_MINUTE
    drain(runtime, rounds=3)
    assert "".join(m["text"]["content"] for m in wecom.sent_messages(touser="lilei", msgtype="text")) == LONG


def test_a_20000_character_reply_reaches_dingtalk_whole_in_order_within_its_limit(runtime, dingtalk):
    queue(runtime, "dingtalk", Reply.say(LONG, to_user="lilei"), Reply.markdown(LONG, to_user="lilei"))
    drain(runtime, rounds=5)
    sent = dingtalk.robot_messages(LILEI_DINGTALK)
    texts = [m["msgParam"]["content"] for m in sent if m["msgKey"] == "sampleText"]
    markdowns = [m["msgParam"]["text"] for m in sent if m["msgKey"] == "sampleMarkdown"]
    assert "".join(texts) == LONG and "".join(markdowns) == LONG
    assert all(len(piece) <= DINGTALK_CHARS for piece in texts + markdowns)
