"""Fixtures for the loopback reliability tests: seeded database, fakes on 127.0.0.1, `liuhen serve` children."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.dingtalk_gateway import FakeDingTalk
from tests.fakes.wecom_server import FakeWeCom, WeComCallbackSender
from tests.reliability.harness import Server, fake_dingtalk, fake_wecom, seed_org, write_config
from tests.wecom_helpers import sender_for


@pytest.fixture
def seeded_db(db_url: str) -> str:
    """The per-test database of tests/conftest.py (a SQLite copy or a fresh PostgreSQL schema), org imported."""
    seed_org(db_url)
    return db_url


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    with fake_wecom() as fake:
        yield fake


@pytest.fixture
def dingtalk() -> Iterator[FakeDingTalk]:
    with fake_dingtalk() as fake:
        yield fake


@pytest.fixture
def wecom_sender(wecom: FakeWeCom) -> WeComCallbackSender:
    return sender_for(wecom)


@pytest.fixture
def wecom_config(seeded_db: str, wecom: FakeWeCom, tmp_path: Path) -> Path:
    return write_config(tmp_path / "config.yaml", seeded_db, wecom=wecom)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Makes `liuhen serve` children (not started); every one is stopped at the end, even after a failure."""
    made: list[Server] = []

    def make(config: Path, env: dict[str, str] | None = None) -> Server:
        server = Server(config, tmp_path, env)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def dingtalk_config(seeded_db: str, dingtalk: FakeDingTalk, tmp_path: Path) -> Path:
    return write_config(tmp_path / "config-dingtalk.yaml", seeded_db, dingtalk=dingtalk)
