"""`liuhen serve` as a real process, configured only by its config file, against the fake DingTalk: help, a card
click answered in its ACK, a throttled send delivered after back-off, a card too long for one message split."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.dingtalk_gateway import FakeDingTalk, throttle_body
from tests.reliability.harness import Server, dingtalk_id, fake_dingtalk, seed_org, write_config
from tests.waiting import wait_until

REP = dingtalk_id(0)
CREATE = "/v1.0/card/instances/createAndDeliver"
BATCH = "/v1.0/robot/oToMessages/batchSend"
TIMEOUT = 60.0  # a loaded 2-core machine


@pytest.fixture
def fake() -> Iterator[FakeDingTalk]:
    with fake_dingtalk() as fake:
        yield fake


@pytest.fixture
def server(db_url: str, fake: FakeDingTalk, tmp_path: Path) -> Iterator[Server]:
    """The child gets a config file and nothing else: no env var for the SDK, nothing patched."""
    seed_org(db_url)
    config = write_config(tmp_path / "config.yaml", db_url, dingtalk=fake, dingtalk_cards=True)
    server = Server(config, tmp_path)
    yield server.start()
    server.stop()


def test_help_click_throttle_and_split_through_a_real_serve_process(server, fake):
    fake.wait_for_connection(timeout=TIMEOUT)
    assert fake.calls("/v1.0/gateway/connections/open")[0].status == 200  # at api_base, not api.dingtalk.com
    fake.fail_next(BATCH, 400, body=throttle_body("send.too.fast"))  # the first robot send is throttled

    fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(REP, "帮助")), timeout=TIMEOUT)
    [created] = fake.wait_for_calls(CREATE, timeout=TIMEOUT)
    card_id = created.body["outTrackId"]
    shown = fake.seen_by(card_id, REP)
    assert shown["title"] == "留痕 · 可用命令" and all(len(v.encode()) <= 1024 for v in shown.values())
    [button] = json.loads(shown["buttons"])

    # the help is longer than a card value may be: the rest follows as markdown, after the throttled try
    wait_until(lambda: fake.robot_messages(REP), TIMEOUT, "the card's follow-up after the back-off")
    sends = fake.calls(BATCH)
    assert [(c.status, c.response.get("code")) for c in sends[:2]] == [(400, "send.too.fast"), (200, None)]
    [rest] = fake.robot_messages(REP)
    assert rest["msgKey"] == "sampleMarkdown" and rest["msgParam"]["title"] == "留痕 · 可用命令（续）"

    ack = fake.wait_for_ack(fake.deliver_card_callback(card_id, REP, {"token": button["token"]}), timeout=TIMEOUT)
    assert ack["code"] == 200
    assert fake.seen_by(card_id, REP)["buttons"] == "[]" and fake.seen_by(card_id, REP)["status"] == "已处理"
    again = fake.wait_for_calls(CREATE, 2, timeout=TIMEOUT)[1]
    assert fake.seen_by(again.body["outTrackId"], REP)["title"] == "留痕 · 可用命令"
    assert fake.calls("/v1.0/card/instances") == [] and fake.card_updates_during_click == []
    assert server.health()["channels"]["dingtalk"] == "connected"
