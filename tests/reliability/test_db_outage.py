"""The database goes away while WeCom callbacks arrive: every one is answered 200, spooled, and once the
database is back the worker replays the spool — nothing lost, nothing processed twice.

SQLite is write-locked (BEGIN IMMEDIATE by another connection) for longer than the acknowledge path waits for
it (`ack_busy_timeout_ms`, 2 s in production, 200 ms here); the private PostgreSQL is stopped
(`pg_ctl -m immediate`). `make test` runs brief outages (the callbacks take ~1 s; a stopped server refuses
connections at once either way); `make reliability` runs the full ones — SQLite locked 10 s, PostgreSQL
stopped 20 s — with the callbacks spread over the outage.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot import orgfile
from bot.app import create_app
from bot.runtime import Runtime
from store import migrate
from store.db import make_engine, session_scope
from tests.conftest import DATA
from tests.fakes.wecom_server import FakeWeCom
from tests.wecom_helpers import URL, fake, inbox, sender_for, settings, signed, wecom_settings  # noqa: F401 (fixtures)

SENDERS = ("lilei", "zhangwei")  # WeCom drops more than ~30 messages a minute to one member: stay below
ACK_WAIT_MS = 200
HINT = re.compile(r"没听懂「断库(\d+)」")


@contextmanager
def sqlite_write_locked(db_url: str) -> Iterator[sqlite3.Connection]:
    """Another connection holds SQLite's write lock until the block ends (readers still read, WAL)."""
    holder = sqlite3.connect(db_url.split("///", 1)[1], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield holder
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def callback_texts(count: int) -> list[tuple[int, str, str]]:
    """(n, sender, text) of plain texts that each get exactly one "没听懂「断库n」" hint back."""
    return [(n, SENDERS[n % len(SENDERS)], f"断库{n}") for n in range(count)]


def send_all(client: TestClient, runtime: Runtime, fake: FakeWeCom, texts: list[tuple[int, str, str]],
             copies: int = 1) -> set[str]:
    """Posts every callback `copies` times concurrently (WeCom's retries); the msg ids answered 200 success."""
    sender = sender_for(fake)
    requests = [(str(10_000 + n), signed(sender, runtime.clock, sender.text_xml(user, text, msg_id=10_000 + n)))
                for n, user, text in texts] * copies

    def post(request: tuple[str, tuple[dict[str, str], bytes]]) -> tuple[str, bool]:
        msg_id, (params, body) = request
        answer = client.post(URL, params=params, content=body)
        return msg_id, (answer.status_code, answer.text) == (200, "")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, requests))
    return {msg_id for msg_id, ok in results if ok}


def send_spread(client: TestClient, runtime: Runtime, fake: FakeWeCom, texts: list[tuple[int, str, str]],
                seconds: float) -> set[str]:
    """`send_all` (each callback twice) in waves spread evenly over `seconds` of outage; all at once for 0."""
    waves = max(1, min(len(texts), int(seconds)))
    started = time.monotonic()
    acknowledged: set[str] = set()
    for wave in range(waves):
        acknowledged |= send_all(client, runtime, fake, texts[wave::waves], copies=2)
        time.sleep(max(0.0, started + (wave + 1) * seconds / waves - time.monotonic()))
    return acknowledged


def hints(fake: FakeWeCom) -> Counter[str]:
    """How often each "断库n" was answered, as the msg id it was sent under."""
    return Counter(str(10_000 + int(m.group(1))) for message in fake.sent_messages(msgtype="text")
                   if (m := HINT.search(message["text"]["content"])))


def assert_nothing_lost_or_doubled(runtime: Runtime, fake: FakeWeCom, acknowledged: set[str], count: int) -> None:
    fake.wait_for_messages(count, timeout=60, msgtype="text")
    rows = inbox(runtime.engine)
    stored = Counter(row.msg_id for row in rows)
    assert acknowledged == set(stored) == set(hints(fake))
    assert set(stored.values()) == {1} and set(hints(fake).values()) == {1}
    assert all(row.processed_at is not None and row.last_error is None for row in rows)
    assert not runtime.inbox.spool.pending


@pytest.mark.parametrize("seconds", [0, pytest.param(10, marks=pytest.mark.reliability)], ids=["brief", "10s"])
def test_sqlite_locked_past_the_ack_wait_answers_spools_and_replays_once(db_url, runtime, fake, seconds):
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock; PostgreSQL has its own outage test below")
    runtime.inbox.ack_busy_timeout_ms = ACK_WAIT_MS
    texts = callback_texts(12)
    runtime.start(with_scheduler=False)  # the real worker loop replays the spool
    try:
        with TestClient(create_app(runtime, start_workers=False)) as client:
            with sqlite_write_locked(db_url):
                acknowledged = send_spread(client, runtime, fake, texts, seconds)
                assert acknowledged == {str(10_000 + n) for n, _, _ in texts}
                assert inbox(runtime.engine) == [] and runtime.inbox.spool.pending
            assert_nothing_lost_or_doubled(runtime, fake, acknowledged, len(texts))
    finally:
        runtime.stop()


# -- PostgreSQL: a private server this test may stop (the shared one serves the other tests) ------------


def pg_bin() -> Path | None:
    if os.environ.get("LIUHEN_TEST_PG_BIN"):
        return Path(os.environ["LIUHEN_TEST_PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


@dataclass
class PrivatePostgres:
    bin: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:  # the server refuses to run as root, as .ci/run knows
            command = ["su", "postgres", "-s", "/bin/sh", "-c", subprocess.list2cmdline(command)]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.data / "log"), "-w", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    found = pg_bin()
    if found is None or not (found / "initdb").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("no PostgreSQL server binaries (LIUHEN_TEST_PG_BIN or /usr/lib/postgresql/*/bin)")
        pytest.skip("no PostgreSQL server binaries: set LIUHEN_TEST_PG_BIN or install Debian's postgresql")
    data = Path(tempfile.mkdtemp(prefix="liuhen-pg-", dir="/tmp"))  # not under pytest's root-only tmp
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = PrivatePostgres(found, data, port)
    server.run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(data, ignore_errors=True)


@pytest.mark.parametrize("seconds", [0, pytest.param(20, marks=pytest.mark.reliability)], ids=["brief", "20s"])
def test_postgres_stopped_while_callbacks_arrive_nothing_lost_or_doubled(private_postgres, fake, clock,
                                                                        tmp_path, monkeypatch, seconds):
    monkeypatch.chdir(tmp_path)  # the spool of a PostgreSQL deployment lives in ./spool
    engine = make_engine(private_postgres.url)
    migrate.upgrade(engine)
    runtime = Runtime(wecom_settings(private_postgres.url, fake), clock=clock, engine=engine)
    with session_scope(engine) as session:
        orgfile.apply(session, *orgfile.parse(DATA / "org.yaml"))
    before, during = callback_texts(16)[:4], callback_texts(16)[4:]
    runtime.start(with_scheduler=False)
    try:
        with TestClient(create_app(runtime, start_workers=False)) as client:
            acknowledged = send_all(client, runtime, fake, before)
            fake.wait_for_messages(len(before), timeout=30, msgtype="text")
            private_postgres.stop()
            acknowledged |= send_spread(client, runtime, fake, during, seconds)
            assert acknowledged == {str(10_000 + n) for n, _, _ in before + during}
            assert runtime.inbox.spool.path.parent == tmp_path / "spool" and runtime.inbox.spool.pending
            private_postgres.start()
            assert_nothing_lost_or_doubled(runtime, fake, acknowledged, len(before) + len(during))
    finally:
        runtime.stop()
        engine.dispose()
