"""One scheduler per deployment: a PostgreSQL advisory lock, or an flock beside the SQLite file."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

LOCK_KEY = 0x6C697568  # "liuh": the advisory-lock id every liuhen process competes for
# Advisory locks are per database, not per schema: the second key keeps deployments in one database apart.
SCHEMA_KEY = "hashtext(current_schema())"


class Leadership:
    """Held for as long as this process lives (PostgreSQL releases it when the connection drops)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._fd is not None

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            if conn.execute(text(f"SELECT pg_try_advisory_lock(:key, {SCHEMA_KEY})"), {"key": LOCK_KEY}).scalar():
                conn.commit()
                self._conn = conn
            else:
                conn.close()
        else:
            fd = os.open(self._lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
            except BlockingIOError:
                os.close(fd)
        if self.held:
            log.info("this process now runs the scheduled sweeps")
        return self.held

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text(f"SELECT pg_advisory_unlock(:key, {SCHEMA_KEY})"), {"key": LOCK_KEY})
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def _lock_path(self) -> str:
        database = self.engine.url.database or "liuhen.db"
        return str(Path(database).with_name(Path(database).name + ".scheduler.lock"))
