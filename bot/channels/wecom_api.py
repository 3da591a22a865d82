"""WeCom's server API over httpx: one shared access token, bounded retries, every failure a `WeComApiError`.

Not wechatpy's WeChatClient: it hard-codes the token URL, retries 42001 without limit and has no timeout.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.channels.base import DeliveryError
from bot.clock import Clock
from bot.config import WeComConfig
from store.models import AccessToken

# httpx logs each request URL at INFO, and gettoken's URL carries the app secret.
logging.getLogger("httpx").setLevel(logging.WARNING)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
REFRESH_BEFORE = timedelta(minutes=5)
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # bad or expired token: fetch a new one, retry once
RATE_LIMITS = {45009: 60.0, 45033: 5.0}  # errcode → seconds to wait before the next attempt
# Retrying cannot help these: the message itself or its recipients are wrong.
PERMANENT = frozenset({40003, 40008, 44004, 47001, 60111, 81013})
# gettoken answers that mean the configuration is wrong, not the network.
CONFIG_ERRORS = frozenset({40001, 40013, 40056, 41002, 41004})

MESSAGES = {
    "errcode": "企业微信 {path} 返回错误 {errcode}：{errmsg}",
    "http": "企业微信 {path} 返回 HTTP {status}",
    "network": "连接企业微信 {path} 失败：{error}",
    "not_json": "企业微信 {path} 的应答不是 JSON",
}
_INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}


class WeComApiError(DeliveryError):
    """A failed API call; `errcode` is WeCom's code, or None for HTTP and network failures."""

    def __init__(self, message: str, *, errcode: int | None = None, retry_after: float | None = None,
                 permanent: bool = False) -> None:
        super().__init__(message, retry_after=retry_after, permanent=permanent)
        self.errcode = errcode

    @property
    def is_config_error(self) -> bool:
        return self.errcode in CONFIG_ERRORS


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime


class WeComApi:
    """Calls `{api_base}/cgi-bin/…`; the token lives in the AccessToken table so every process shares it."""

    def __init__(self, config: WeComConfig, engine: Engine, clock: Clock) -> None:
        self.config = config
        self.engine = engine
        self.clock = clock
        self.key = f"wecom:{config.corp_id}:{config.agent_id}"
        self._http = httpx.Client(base_url=config.api_base.rstrip("/") + "/cgi-bin/", timeout=TIMEOUT)
        self._token: _Token | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
             files: dict[str, Any] | None = None) -> dict[str, Any]:
        """One API call with the access token; a rejected token is replaced and the call tried once more."""
        token = self.token()
        try:
            return self._request(method, path, params={**(params or {}), "access_token": token}, json=json,
                                 files=files)
        except WeComApiError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
        fresh = self.token(rejected=token)
        return self._request(method, path, params={**(params or {}), "access_token": fresh}, json=json,
                             files=files)

    def token(self, *, rejected: str | None = None) -> str:
        """A token valid for 5 more minutes: this process's copy, the shared one, or a new one from gettoken."""
        with self._lock:
            now = self.clock.now()
            if self._usable(self._token, now, rejected):
                assert self._token is not None
                return self._token.value
            shared = self._load()
            if not self._usable(shared, now, rejected):
                shared = self._fetch(now)
                self._save(shared)
            self._token = shared
            assert shared is not None
            return shared.value

    @staticmethod
    def _usable(token: _Token | None, now: datetime, rejected: str | None) -> bool:
        return token is not None and token.value != rejected and token.expires_at - REFRESH_BEFORE > now

    def _fetch(self, now: datetime) -> _Token:
        answer = self._request("GET", "gettoken",
                               params={"corpid": self.config.corp_id, "corpsecret": self.config.secret})
        return _Token(str(answer["access_token"]), now + timedelta(seconds=int(answer.get("expires_in", 7200))))

    def _load(self) -> _Token | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(AccessToken.token, AccessToken.expires_at).where(AccessToken.key == self.key)
            ).first()
        return _Token(row[0], row[1]) if row else None

    def _save(self, token: _Token) -> None:
        with self.engine.begin() as conn:
            stmt = _INSERTS[conn.dialect.name](AccessToken).values(
                key=self.key, token=token.value, expires_at=token.expires_at
            )
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["key"], set_={"token": token.value, "expires_at": token.expires_at}
            ))

    def _request(self, method: str, path: str, *, params: dict[str, Any], json: Any = None,
                 files: dict[str, Any] | None = None) -> dict[str, Any]:
        """Never puts the URL in an error: its query holds the token or the secret."""
        try:
            response = self._http.request(method, path, params=params, json=json, files=files)
        except httpx.HTTPError as exc:
            raise WeComApiError(MESSAGES["network"].format(path=path, error=type(exc).__name__)) from None
        if response.status_code != 200:
            raise WeComApiError(MESSAGES["http"].format(path=path, status=response.status_code))
        try:
            answer = response.json()
        except ValueError:
            raise WeComApiError(MESSAGES["not_json"].format(path=path)) from None
        errcode = int(answer.get("errcode") or 0)
        if errcode:
            raise WeComApiError(
                MESSAGES["errcode"].format(path=path, errcode=errcode, errmsg=answer.get("errmsg", "")),
                errcode=errcode, retry_after=RATE_LIMITS.get(errcode), permanent=errcode in PERMANENT,
            )
        return answer
