"""Shared fixtures: a fresh database per test on SQLite and (when configured) PostgreSQL, a frozen clock."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, text

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


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "liuhen.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    assert PG_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    migrate.upgrade(make_engine(url))
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


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
