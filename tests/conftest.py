"""Shared fixtures: a fresh database per test on SQLite and (when configured) PostgreSQL, a frozen clock."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, event, text

from bot.clock import Clock
from bot.config import Settings, load_settings
from bot.runtime import Runtime
from store import migrate
from store.db import make_engine

TESTS = Path(__file__).parent
DATA = TESTS / "data"
PG_URL = os.environ.get("LIUHEN_TEST_DATABASE_URL")
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=TZ)


def daytime_zone(now: datetime | None = None) -> str:
    """An `Etc/GMT±N` zone where it is early afternoon now: a test that pushes at the real time (a CLI run, a child
    process) is then never held back by quiet hours (21:00–08:00), whenever it runs."""
    offset = (13 - (now or datetime.now(UTC)).hour + 12) % 24 - 12  # hours east of UTC, in [-12, 11]
    return f"Etc/GMT{-offset:+d}"  # the Etc zones' sign is POSIX's: Etc/GMT-8 is UTC+8


if os.environ.get("CI") == "true" and not PG_URL:
    raise pytest.UsageError("CI=true but LIUHEN_TEST_DATABASE_URL is not set: the PostgreSQL lane must run in CI")

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's shell never leaks into a test."""
    for name in list(os.environ):
        if name.startswith("LIUHEN__") or name == "LIUHEN_CONFIG":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once per session; each test gets a copy, so the migrations still run for real."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _new_pg_schema(admin: Engine) -> tuple[str, str]:
    """A fresh, empty schema and the URL whose search_path points at it."""
    assert PG_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    return schema, f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine | None]:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT") if PG_URL else None
    yield admin
    if admin is not None:
        admin.dispose()


@pytest.fixture(scope="session")
def pg_migration(pg_admin: Engine | None) -> list[tuple[str, Any]]:
    """Every statement the real migrations send, recorded once per worker (in a schema dropped afterwards).

    Replaying them builds the same schema in a fraction of the time: Alembic's own work is Python, not SQL.
    """
    if pg_admin is None:
        return []
    schema, url = _new_pg_schema(pg_admin)
    engine = make_engine(url)
    sent: list[tuple[str, Any]] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, parameters, _context, _many: sent.append((statement, parameters)))
    migrate.upgrade(engine)
    engine.dispose()
    with pg_admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    return sent


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "liuhen.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    admin: Engine = request.getfixturevalue("pg_admin")
    schema, url = _new_pg_schema(admin)
    engine = make_engine(url)
    with engine.begin() as conn:
        for statement, parameters in request.getfixturevalue("pg_migration"):
            conn.exec_driver_sql(statement, parameters or ())
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(TZ, frozen_at=T0)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return load_settings(environ={}, path=DATA / "config-test.yaml", overrides={"database": {"url": db_url}})


@pytest.fixture
def runtime(settings: Settings, engine: Engine, clock: Clock) -> Runtime:
    """The whole app minus its background thread: tests call work_once() themselves."""
    from bot import orgfile
    from store.db import session_scope

    runtime = Runtime(settings, clock=clock, engine=engine)
    teams, users = orgfile.parse(DATA / "org.yaml")
    with session_scope(engine) as session:
        orgfile.apply(session, teams, users)
    return runtime
