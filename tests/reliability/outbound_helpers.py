"""Both platforms' fakes behind one runtime, and what each fake received, for the outbound reliability tests."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session

from bot import cards
from bot.cards import Reply
from bot.channels.dingtalk import DingTalkChannel
from bot.channels.dingtalk_api import DingTalkApi
from bot.channels.wecom import WeComChannel
from bot.channels.wecom_api import WeComApi
from bot.config import Settings, load_settings
from bot.runtime import Runtime
from tests.conftest import DATA
from tests.fakes.dingtalk_gateway import FakeDingTalk
from tests.fakes.wecom_server import FakeWeCom
from tests.wecom_helpers import AES_KEY, TOKEN

LILEI_DINGTALK = "0123"
BATCH = "/v1.0/robot/oToMessages/batchSend"
SHORT_TIMEOUT = httpx.Timeout(0.3)  # the fakes hang for HANG seconds: well past it, without slowing the suite
HANG = 1.0
KEYS = itertools.count()
ITEM = re.compile(r"提醒#\d+")


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    with FakeWeCom() as fake:
        yield fake


@pytest.fixture
def dingtalk() -> Iterator[FakeDingTalk]:
    with FakeDingTalk() as fake:
        yield fake


def both_settings(db_url: str, wecom: FakeWeCom, dingtalk: FakeDingTalk) -> Settings:
    wecom_values = {"enabled": True, "corp_id": wecom.corp_id, "agent_id": wecom.agent_id, "secret": wecom.secret,
                    "token": TOKEN, "encoding_aes_key": AES_KEY, "api_base": wecom.base_url}
    return load_settings(environ={}, path=DATA / "config-test.yaml", overrides={
        "database": {"url": db_url}, "wecom": wecom_values, "dingtalk": dingtalk.liuhen_config()})


def with_short_timeouts(runtime: Runtime) -> None:
    """The channels as the runtime builds them, with a timeout the fakes can outlast quickly."""
    settings = runtime.settings
    runtime.channels["wecom"] = WeComChannel(WeComApi(settings.wecom, runtime.engine, runtime.clock,
                                                      timeout=SHORT_TIMEOUT))
    runtime.channels["dingtalk"] = DingTalkChannel(
        settings.dingtalk, runtime.engine, runtime.clock,
        api=DingTalkApi(settings.dingtalk, runtime.engine, runtime.clock, timeout=SHORT_TIMEOUT))


def queue(runtime: Runtime, channel: str, *replies: Reply) -> list[int]:
    with Session(runtime.engine) as session:
        ids = [cards.queue(session, reply, dedupe_key=f"r:{next(KEYS)}", now=runtime.clock.now(), channel=channel)
               for reply in replies]
        session.commit()
    return ids


def reminders(n: int, start: int = 0) -> list[str]:
    return [f"提醒#{i:03d}：回访华东医疗" for i in range(start, start + n)]


def drain(runtime: Runtime, rounds: int = 30, step: timedelta = timedelta(minutes=1)) -> None:
    """Runs the dispatcher as the frozen clock advances, far enough for every backoff; no real waiting."""
    for _ in range(rounds):
        runtime.dispatcher.run_once()
        runtime.clock.advance(step)


def wecom_texts(fake: FakeWeCom, touser: str = "lilei") -> list[str]:
    return [m["text"]["content"] for m in fake.sent_messages(touser=touser, msgtype="text")]


def dingtalk_texts(fake: FakeDingTalk, user_id: str | None = LILEI_DINGTALK, conversation_id: str | None = None
                   ) -> list[str]:
    return [m["msgParam"]["content"] for m in fake.robot_messages(user_id, conversation_id)
            if m["msgKey"] == "sampleText"]


def item_counts(texts: list[str]) -> Counter[str]:
    """How often each reminder arrived, whether alone or inside a digest."""
    return Counter(found for text in texts for found in ITEM.findall(text))
