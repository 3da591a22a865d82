"""The inbound spool itself: arrival order survives an outage, a torn line from a crash costs nothing that
was acknowledged, and an event neither the database nor the spool could take is never acknowledged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlmodel import Session, select

from bot.app import create_app
from bot.events import Event
from store.inbox import Spool
from store.models import Outbox
from tests.reliability.test_db_outage import ACK_WAIT_MS, sqlite_write_locked
from tests.wecom_helpers import URL, fake, inbox, sender_for, settings, signed  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _spool_in_tmp(tmp_path, monkeypatch):
    """A PostgreSQL deployment spools under ./spool: keep it in this test's directory."""
    monkeypatch.chdir(tmp_path)


@contextmanager
def write_locked(db_url: str) -> Iterator[None]:
    """Inserts into the inbox wait for another connection (SQLite: its write lock; PostgreSQL: a table lock
    that still lets readers read)."""
    if db_url.startswith("sqlite"):
        with sqlite_write_locked(db_url):
            yield
        return
    engine = create_engine(db_url)
    with engine.connect() as conn:
        conn.exec_driver_sql("LOCK TABLE message IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


def said(runtime, user: str) -> list[str]:
    with Session(runtime.engine) as session:
        rows = session.exec(select(Outbox).where(Outbox.user_id == user).order_by(Outbox.id)).all()
    return [row.payload.get("text") or row.payload["card"]["title"] for row in rows]


def text(runtime, msg_id: str, words: str) -> Event:
    return Event(channel="wecom", msg_id=msg_id, sender="lilei", kind="text", text=words,
                 received_at=runtime.clock.now())


def test_events_after_an_outage_queue_behind_the_spooled_ones(db_url, runtime):
    runtime.inbox.ack_busy_timeout_ms = ACK_WAIT_MS
    with write_locked(db_url):
        assert runtime.inbox.ingest_many([text(runtime, "m1", "新线索 华东医疗")]) == [True]
    # the database is back, the spool not yet replayed: 取消 must not overtake the lead it cancels
    assert runtime.inbox.ingest_many([text(runtime, "m2", "取消")]) == [True]
    assert inbox(runtime.engine) == []
    runtime.work_once()
    assert [row.msg_id for row in inbox(runtime.engine)] == ["m1", "m2"]
    assert said(runtime, "lilei")[-1] == "已退出当前操作。"
    assert not runtime.inbox.spool.pending


def test_a_torn_last_line_from_a_crash_is_dropped_and_the_next_event_kept(runtime):
    spool = runtime.inbox.spool
    spool.path.parent.mkdir(parents=True, exist_ok=True)
    spool.path.write_bytes(b'{"channel": "wecom", "msg_id": "torn", "ki')  # killed mid-append: never acknowledged
    assert runtime.inbox.ingest_many([text(runtime, "m1", "取消")]) == [True]
    runtime.work_once()
    assert [row.msg_id for row in inbox(runtime.engine)] == ["m1"]
    assert said(runtime, "lilei") == ["当前没有进行中的操作。"] and not spool.pending


def test_a_callback_neither_the_database_nor_the_spool_takes_gets_no_200(db_url, runtime, fake, tmp_path):
    runtime.inbox.ack_busy_timeout_ms = ACK_WAIT_MS
    working = runtime.inbox.spool
    (tmp_path / "full-disk").write_text("")
    runtime.inbox.spool = Spool(tmp_path / "full-disk" / "spool.jsonl")  # cannot be created
    sender = sender_for(fake)
    params, body = signed(sender, runtime.clock, sender.text_xml("lilei", "取消", msg_id=77))
    with TestClient(create_app(runtime, start_workers=False)) as client:
        with write_locked(db_url):
            refused = client.post(URL, params=params, content=body)
        assert refused.status_code == 503 and inbox(runtime.engine) == []
        runtime.inbox.spool = working
        retried = client.post(URL, params=params, content=body)  # WeCom delivers again
    assert (retried.status_code, retried.text) == (200, "")
    runtime.work_once()
    assert [row.msg_id for row in inbox(runtime.engine)] == ["77"]
    assert said(runtime, "lilei") == ["当前没有进行中的操作。"]
