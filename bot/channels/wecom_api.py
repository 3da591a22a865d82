"""WeCom's server API over httpx: the shared access token, bounded retries, every failure a `WeComApiError`.

Not wechatpy's WeChatClient: it hard-codes the token URL, retries 42001 without limit and has no timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine

from bot.channels.access_token import SharedToken, Token
from bot.channels.base import DeliveryError
from bot.clock import Clock
from bot.config import WeComConfig

# httpx logs each request URL at INFO, and gettoken's URL carries the app secret.
logging.getLogger("httpx").setLevel(logging.WARNING)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # wechatpy has none: a hung WeCom would hang the dispatcher
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # bad or expired token: fetch a new one, retry once
RATE_LIMITS = {45009: 60.0, 45033: 5.0}  # errcode → seconds to wait before the next attempt
# Retrying cannot help these: the message itself, its recipients or the server's standing are wrong.
PERMANENT = frozenset({40003, 40008, 40058, 42045, 44004, 45002, 47001, 60020, 60111, 81013})
# gettoken answers that mean the configuration is wrong, not the network.
CONFIG_ERRORS = frozenset({40001, 40013, 40056, 41002, 41004})

MESSAGES = {
    "errcode": "企业微信 {path} 返回错误 {errcode}：{errmsg}",
    "reason": "企业微信 {path} 返回错误 {errcode}（{reason}）：{errmsg}",
    "http": "企业微信 {path} 返回 HTTP {status}",
    "network": "连接企业微信 {path} 失败：{error}",
    "not_json": "企业微信 {path} 的应答不是 JSON",
    "not_media": "企业微信 {path} 没有返回文件",
}


# What an operator must know about a permanent refusal, logged with it (WeCom's errmsg alone does not say).
REASONS = {
    40058: "参数不合法：内容超长（应用 markdown 最多 2048 字节）或 response_code 已用过、已过期，不再重试",
    45002: "消息内容超过大小上限，不再重试",
    60020: "服务器出口 IP 不在应用的「企业可信IP」列表，请在应用详情 → 开发者接口中添加，不再重试",
}

log = logging.getLogger(__name__)
T = TypeVar("T")


class WeComApiError(DeliveryError):
    """A failed API call; `errcode` is WeCom's code, or None for HTTP and network failures."""

    def __init__(self, message: str, *, errcode: int | None = None, retry_after: float | None = None,
                 permanent: bool = False) -> None:
        super().__init__(message, retry_after=retry_after, permanent=permanent)
        self.errcode = errcode

    @property
    def is_config_error(self) -> bool:
        return self.errcode in CONFIG_ERRORS


class WeComApi:
    """Calls `{api_base}/cgi-bin/…`; the token is a `SharedToken`, so every process uses the same one."""

    def __init__(self, config: WeComConfig, engine: Engine, clock: Clock, *,
                 timeout: httpx.Timeout = TIMEOUT) -> None:
        self.config = config
        self.clock = clock
        self._http = httpx.Client(base_url=config.api_base.rstrip("/") + "/cgi-bin/", timeout=timeout)
        self._token = SharedToken(engine, clock, f"wecom:{config.corp_id}:{config.agent_id}", self._fetch)

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
             files: dict[str, Any] | None = None) -> dict[str, Any]:
        """One API call with the access token; a rejected token is replaced and the call tried once more —
        never a loop: a token refused again fails this attempt, and the outbox backs off."""
        return self._with_token(lambda token: self._request(
            method, path, params={**(params or {}), "access_token": token}, json=json, files=files))

    def download(self, media_id: str) -> bytes:
        """A temporary media file's bytes (`media/get`, e.g. a voice message's AMR; kept by WeCom for 3 days)."""
        return self._with_token(lambda token: self._media(
            "media/get", params={"media_id": media_id, "access_token": token}))

    def _with_token(self, attempt: Callable[[str], T]) -> T:
        token = self.token()
        try:
            return attempt(token)
        except WeComApiError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
        return attempt(self.token(rejected=token))

    def token(self, *, rejected: str | None = None) -> str:
        """A token valid for 5 more minutes: this process's copy, the shared one, or a new one from gettoken."""
        return self._token.get(rejected=rejected)

    def _fetch(self, now: datetime) -> Token:
        answer = self._request("GET", "gettoken",
                               params={"corpid": self.config.corp_id, "corpsecret": self.config.secret})
        return Token(str(answer["access_token"]), now + timedelta(seconds=int(answer.get("expires_in", 7200))))

    def _request(self, method: str, path: str, *, params: dict[str, Any], json: Any = None,
                 files: dict[str, Any] | None = None) -> dict[str, Any]:
        return _answer(path, self._send(method, path, params=params, json=json, files=files))

    def _media(self, path: str, *, params: dict[str, Any]) -> bytes:
        """The file, or WeCom's JSON error (an unknown or expired media_id is 40007)."""
        response = self._send("GET", path, params=params)
        if response.headers.get("content-type", "").startswith(("application/json", "text/plain")):
            _answer(path, response)  # raises on an errcode
            raise WeComApiError(MESSAGES["not_media"].format(path=path), permanent=True)
        return response.content

    def _send(self, method: str, path: str, *, params: dict[str, Any], json: Any = None,
              files: dict[str, Any] | None = None) -> httpx.Response:
        """Never puts the URL in an error: its query holds the token or the secret."""
        try:
            response = self._http.request(method, path, params=params, json=json, files=files)
        except httpx.HTTPError as exc:
            raise WeComApiError(MESSAGES["network"].format(path=path, error=type(exc).__name__)) from None
        if response.status_code != 200:
            raise WeComApiError(MESSAGES["http"].format(path=path, status=response.status_code))
        return response


def _answer(path: str, response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        raise WeComApiError(MESSAGES["not_json"].format(path=path)) from None
    errcode = int(answer.get("errcode") or 0)
    if not errcode:
        return answer
    errmsg = answer.get("errmsg", "")
    if errcode in REASONS:
        message = MESSAGES["reason"].format(path=path, errcode=errcode, reason=REASONS[errcode], errmsg=errmsg)
        log.error("%s", message)
    else:
        message = MESSAGES["errcode"].format(path=path, errcode=errcode, errmsg=errmsg)
    raise WeComApiError(message, errcode=errcode, retry_after=RATE_LIMITS.get(errcode),
                        permanent=errcode in PERMANENT)
