"""A platform access token shared by every process through the AccessToken table, refreshed before it expires."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.clock import Clock
from store.models import AccessToken

REFRESH_BEFORE = timedelta(minutes=5)
_INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: datetime


class SharedToken:
    """This process's copy, else the shared row, else `fetch(now)`; `rejected` skips a token the platform refused."""

    def __init__(self, engine: Engine, clock: Clock, key: str, fetch: Callable[[datetime], Token]) -> None:
        self.engine = engine
        self.clock = clock
        self.key = key
        self._fetch = fetch
        self._token: Token | None = None
        self._lock = threading.Lock()

    def get(self, *, rejected: str | None = None) -> str:
        with self._lock:
            now = self.clock.now()
            if not self._usable(self._token, now, rejected):
                shared = self._load()
                if not self._usable(shared, now, rejected):
                    shared = self._fetch(now)
                    self._save(shared)
                self._token = shared
            assert self._token is not None
            return self._token.value

    @staticmethod
    def _usable(token: Token | None, now: datetime, rejected: str | None) -> bool:
        return token is not None and token.value != rejected and token.expires_at - REFRESH_BEFORE > now

    def _load(self) -> Token | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(AccessToken.token, AccessToken.expires_at).where(AccessToken.key == self.key)
            ).first()
        return Token(row[0], row[1]) if row else None

    def _save(self, token: Token) -> None:
        with self.engine.begin() as conn:
            stmt = _INSERTS[conn.dialect.name](AccessToken).values(
                key=self.key, token=token.value, expires_at=token.expires_at
            )
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["key"], set_={"token": token.value, "expires_at": token.expires_at}
            ))
