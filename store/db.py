"""Engine and session setup for SQLite (embedded default) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Creates an engine; SQLite gets WAL, foreign keys and a busy timeout so several threads can share it."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    event.listen(engine, "connect", _postgres_settings)
    return engine


def _postgres_settings(dbapi_connection: Any, _record: Any) -> None:
    """Sweeps stream every row through server-side cursors; PostgreSQL's default plans a cursor for its first
    10 % (cursor_tuple_fraction 0.1) and, to skip the sort of `ORDER BY id`, walks the whole primary key:
    a 2.6 ms anti-join became 25 ms at 200 000 opportunities, and grew with the table (bench/sweeps.py)."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET cursor_tuple_fraction = 1.0")
    dbapi_connection.commit()


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def insert_ignoring_conflict(bind: Connection | Session, table: Any, values: dict[str, Any],
                             unique: list[str]) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new row's id, or None when the unique key exists."""
    rows = insert_many_ignoring_conflict(bind, table, [values], unique, returning="id")
    return rows[0] if rows else None


def insert_many_ignoring_conflict(bind: Connection | Session, table: Any, rows: list[dict[str, Any]],
                                  unique: list[str], *, returning: str) -> list[Any]:
    """One batched INSERT … ON CONFLICT DO NOTHING; returns `returning` of the rows actually inserted.

    Core on the table, not the ORM entity: sweeps insert thousands of rows and the ORM's per-row
    statement preparation would dominate.
    """
    if not rows:
        return []
    core = table.__table__
    dialect = (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name
    dialect_insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[dialect]
    stmt = dialect_insert(core).on_conflict_do_nothing(index_elements=unique).returning(core.c[returning])
    if len(rows) == 1:
        return list(bind.execute(stmt.values(**rows[0])).scalars())
    return list(bind.execute(stmt, rows).scalars())
