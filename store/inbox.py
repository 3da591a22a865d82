"""The inbox: one lean insert on the acknowledge path, then reads for processing."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

from store.db import insert_ignoring_conflict
from store.models import Message

log = logging.getLogger(__name__)

# The database cannot be reached or stays locked (not: it refused this row): what the spool is for.
UNREACHABLE = (OperationalError, InterfaceError, PoolTimeout)
_TABLE = Message.__table__  # type: ignore[attr-defined]
# Built once per dialect: constructing the statement cost more than executing it (≈0.2 ms per call).
_INSERT_MANY: dict[str, Insert] = {
    name: build(_TABLE).on_conflict_do_nothing(index_elements=["channel", "msg_id"]).returning(_TABLE.c.msg_id)
    for name, build in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def inbound_row(
    *,
    channel: str,
    msg_id: str,
    kind: str,
    received_at: datetime,
    event: dict[str, Any],
    sender: str | None = None,
    chat_id: str | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    """The column values of one inbound event."""
    return {
        "channel": channel,
        "msg_id": msg_id,
        "kind": kind,
        "received_at": received_at,
        "event": event,
        "sender": sender,
        "chat_id": chat_id,
        "text": text,
        "attempts": 0,
    }


def store_inbound(conn: Connection, **fields: Any) -> int | None:
    """Inserts the event unless (channel, msg_id) is already there; returns the new row id or None.

    Core, not the ORM: this runs before the platform gets its answer, so it stays one statement.
    """
    return insert_ignoring_conflict(conn, Message, inbound_row(**fields), ["channel", "msg_id"])


def store_inbound_many(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """A grouped commit of `inbound_row`s of one channel in one statement; returns the msg_ids that were new."""
    if not rows:
        return set()
    return set(conn.execute(_INSERT_MANY[conn.dialect.name], rows).scalars())


def store_inbound_committed(engine: Engine, **kwargs: Any) -> int | None:
    """`store_inbound` in its own committed transaction: the event is durable when this returns."""
    with engine.begin() as conn:
        return store_inbound(conn, **kwargs)


def unprocessed_ids(session: Session, *, max_attempts: int, limit: int = 100) -> list[int]:
    """Rows not yet processed (including those a crash left behind), oldest first."""
    stmt = (
        select(Message.id)
        .where(Message.processed_at.is_(None), Message.attempts < max_attempts)
        .order_by(Message.id)
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def claim(session: Session, message_id: int) -> Message | None:
    """Locks an unprocessed row for this transaction (PostgreSQL: skip rows another process holds)."""
    stmt = select(Message).where(Message.id == message_id, Message.processed_at.is_(None))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.execute(stmt).scalars().first()


def record_failure(session: Session, message_id: int, error: str) -> None:
    session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(attempts=Message.attempts + 1, last_error=error[:2000])
    )


class Spool:
    """An append-only JSON-lines file of inbox rows that could not be committed (the database was down).

    Every file operation holds an `flock` on `<path>.lock` (a replay also `<path>.replay`), so threads and
    processes sharing the file never interleave. An append is fsynced before it returns: only then may the platform be acknowledged.
    `replay` commits the rows with the same idempotent insert and then drops exactly the lines it read.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")

    @property
    def pending(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except OSError:  # none yet (or unusable: then `append` raises and nothing is acknowledged)
            return False

    def append(self, rows: list[dict[str, Any]]) -> None:
        data = "".join(json.dumps(_to_line(row), ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
        with self._locked():
            created = not self.path.exists()
            with open(self.path, "a+b") as spool:
                if spool.tell():  # a crash mid-append may have left a torn last line: never extend it
                    spool.seek(-1, os.SEEK_END)
                    if spool.read(1) != b"\n":
                        data = b"\n" + data
                spool.write(data)
                spool.flush()
                os.fsync(spool.fileno())
            if created:
                _fsync_dir(self.path.parent)

    def replay(self, engine: Engine, batch: int = 500) -> int:
        """Commits the spooled rows (raises if the database is still down); returns how many were replayed.

        One replay at a time (another process's replay in progress: 0 here), so no replay drops lines another
        has not committed; appends only wait for the short file operations, never for the database.
        """
        with open(self.path.with_name(self.path.name + ".replay"), "a") as replaying:
            try:
                fcntl.flock(replaying, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0
            return self._replay(engine, batch)

    def _replay(self, engine: Engine, batch: int) -> int:
        with self._locked():
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                return 0
        done = data.rfind(b"\n") + 1  # a torn last line (crash mid-append) was never acknowledged: dropped
        rows = [row for line in data[:done].splitlines() if (row := _from_line(line)) is not None]
        for start in range(0, len(rows), batch):
            self._commit(engine, rows[start : start + batch])
        with self._locked():
            rest = self.path.read_bytes()[len(data):]
            if data[done:]:
                log.error("inbox spool: dropped a torn line %r", data[done:][:200])
            if rest:
                temporary = self.path.with_name(self.path.name + ".tmp")
                temporary.write_bytes(rest)
                with open(temporary, "rb") as written:
                    os.fsync(written.fileno())
                os.replace(temporary, self.path)
            else:
                self.path.unlink()
            _fsync_dir(self.path.parent)
        return len(rows)

    def _commit(self, engine: Engine, rows: list[dict[str, Any]]) -> None:
        """A row the database refuses for good (not for being down) goes to `<path>.rejected`, not back."""
        try:
            with engine.begin() as conn:
                store_inbound_many(conn, rows)
        except UNREACHABLE:
            raise
        except DBAPIError as exc:
            if len(rows) > 1:
                for row in rows:
                    self._commit(engine, [row])
                return
            log.error("inbox spool: row %s/%s refused (%s); kept in %s.rejected", rows[0]["channel"],
                      rows[0]["msg_id"], type(exc).__name__, self.path.name)
            with open(self.path.with_name(self.path.name + ".rejected"), "ab") as rejected:
                rejected.write(json.dumps(_to_line(rows[0]), ensure_ascii=False).encode("utf-8") + b"\n")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def spool_for(engine: Engine) -> Spool:
    """Beside the SQLite file (`liuhen.db` → `liuhen.db-spool.jsonl`); otherwise `spool/inbound-<url hash>.jsonl`
    under the working directory (the hash keeps databases sharing a directory apart; no secret is in the name)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        return Spool(database.with_name(database.name + "-spool.jsonl"))
    key = hashlib.sha256(url.render_as_string(hide_password=True).encode("utf-8")).hexdigest()[:16]
    return Spool(Path.cwd() / "spool" / f"inbound-{key}.jsonl")


def _to_line(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "received_at": row["received_at"].isoformat()}


def _from_line(line: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
        row["received_at"] = datetime.fromisoformat(row["received_at"])
        return dict(row)
    except (ValueError, KeyError, TypeError):
        log.error("inbox spool: skipped an unreadable line %r", line[:200])
        return None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
