"""DingTalk pushes a robot message once and never again: the ACK follows the commit (or the spool), nothing of
ours after the commit may keep it back, and a `disconnect` frame means reconnecting now, not 10 s later."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.fakes.dingtalk_gateway import FakeDingTalk
from tests.reliability.test_db_outage import ACK_WAIT_MS, sqlite_write_locked
from tests.test_dingtalk import LILEI, fake, rows, settings, stream  # noqa: F401 (fixtures)
from tests.waiting import wait_until

HINT = re.compile(r"没听懂「断库(\d+)」")


def hints(fake: FakeDingTalk) -> Counter[str]:
    return Counter(m.group(1) for sent in fake.robot_messages(LILEI)
                   if (m := HINT.search(str(sent["msgParam"].get("content", "")))))


def test_a_failure_after_the_commit_still_acks_and_the_message_is_answered(runtime, fake):
    def wake() -> None:  # our code after the commit, failing
        raise RuntimeError("worker could not be woken")

    runtime.dingtalk.listen(runtime.inbox.ingest_many, wake)
    try:
        fake.wait_for_connection()
        fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(LILEI, "取消")))
    finally:
        runtime.dingtalk.close()
    [row] = rows(runtime)
    assert (row.kind, row.text) == ("text", "取消")
    runtime.work_once()
    [sent] = fake.robot_messages(LILEI)
    assert sent["msgParam"] == {"content": "当前没有进行中的操作。"}


def test_a_disconnect_frame_reconnects_at_once_and_messages_keep_flowing(runtime, fake, stream):
    fake.send_disconnect()
    fake.wait_for_connection(2)  # well before the SDK's 10 s pause after an abnormal close
    fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(LILEI, "取消")))
    assert [(n, frame["headers"]["topic"]) for n, frame in fake.sent][-1] == (2, "/v1.0/im/bot/messages/get")
    runtime.work_once()
    assert [row.text for row in rows(runtime)] == ["取消"] and len(fake.robot_messages(LILEI)) == 1


def test_database_locked_messages_are_acked_from_the_spool_and_answered_once(db_url, runtime, fake, stream):
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock; the PostgreSQL outage is tests/reliability/test_db_outage.py")
    runtime.inbox.ack_busy_timeout_ms = ACK_WAIT_MS
    with sqlite_write_locked(db_url):
        ids = [fake.deliver_chatbot(fake.chatbot_text(LILEI, f"断库{n}")) for n in range(6)]
        for mid in ids:
            fake.wait_for_ack(mid)
        fake.redeliver(ids[0])  # a platform retry while the database is still away
        wait_until(lambda: [f["headers"].get("messageId") for f in fake.client_frames].count(ids[0]) == 2, 10,
                   "the redelivery's ACK")
        assert rows(runtime) == [] and runtime.inbox.spool.pending
    runtime.work_once()
    assert sorted(row.text for row in rows(runtime)) == sorted(f"断库{n}" for n in range(6))
    assert hints(fake) == Counter({str(n): 1 for n in range(6)})
    assert not runtime.inbox.spool.pending
