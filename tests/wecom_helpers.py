"""Builders for WeCom tests: settings pointing at the fake, signed callbacks at the runtime's clock, inbox reads.

The fixtures `fake`, `settings` (the runtime's, WeCom on and pointed at the fake) and `sender` are imported by
the modules that test WeCom: `from tests.wecom_helpers import fake, sender, settings`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.clock import Clock
from bot.config import Settings, load_settings
from store.models import Message, Outbox
from tests.conftest import DATA
from tests.fakes.wecom_server import FakeWeCom, WeComCallbackSender

TOKEN = "liuhenTestToken"
AES_KEY = base64.b64encode(bytes(range(32))).decode()[:-1]
URL = "/wecom/callback"


def wecom_settings(db_url: str, fake: FakeWeCom, **wecom: Any) -> Settings:
    values = {"enabled": True, "corp_id": fake.corp_id, "agent_id": fake.agent_id, "secret": fake.secret,
              "token": TOKEN, "encoding_aes_key": AES_KEY, "api_base": fake.base_url, **wecom}
    return load_settings(environ={}, path=DATA / "config-test.yaml",
                         overrides={"database": {"url": db_url}, "wecom": values})


def sender_for(fake: FakeWeCom) -> WeComCallbackSender:
    return WeComCallbackSender(TOKEN, AES_KEY, fake.corp_id, fake.agent_id)


@pytest.fixture
def fake() -> Iterator[FakeWeCom]:
    with FakeWeCom() as fake:
        yield fake


@pytest.fixture
def settings(db_url: str, fake: FakeWeCom) -> Settings:
    return wecom_settings(db_url, fake)


@pytest.fixture
def sender(fake: FakeWeCom) -> WeComCallbackSender:
    return sender_for(fake)


def signed(sender: WeComCallbackSender, clock: Clock, xml: str) -> tuple[dict[str, str], bytes]:
    """Query and body of a callback stamped with the runtime's (frozen) time, so it is inside the window."""
    return sender.encrypt_callback(xml, timestamp=int(clock.now().timestamp()))


def inbox(engine: Engine) -> list[Message]:
    with Session(engine) as session:
        return list(session.exec(select(Message).order_by(Message.id)).all())


def outbox(engine: Engine) -> list[Outbox]:
    with Session(engine) as session:
        return list(session.exec(select(Outbox).order_by(Outbox.id)).all())
