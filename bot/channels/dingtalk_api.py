"""DingTalk's OpenAPI over httpx (v1.0 on api_base, topapi on oapi_base): one shared token, typed failures.

Not the SDK's helpers: they keep the import-time host, use blocking `requests` without timeouts and
check only the HTTP status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from bot.channels.access_token import SharedToken, Token
from bot.channels.base import DeliveryError
from bot.clock import Clock
from bot.config import DingTalkConfig

# httpx logs each request URL at INFO, and oapi URLs carry the access token.
logging.getLogger("httpx").setLevel(logging.WARNING)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # the SDK's `requests` calls have none
THROTTLE_SECONDS = 2.0  # DingTalk's limits are per second: the next second is free again
TOKEN_PATH = "/v1.0/oauth2/accessToken"
TOKEN_CODES = frozenset({"InvalidAuthentication", "40001", "40014", "42001"})
CONFIG_CODES = frozenset({"invalidClientIdOrSecret", "40089", "40096"})
OAPI_THROTTLE = frozenset({90018, 90002})  # 90018 over the rate limit, 90002 busy: both say "back off"
OAPI_RETRYABLE = frozenset({-1})
# Robot sends throttled: HTTP 400 with these codes; seconds to wait (the burst limits clear within a second or
# two, the per-group/per-member counts within a minute). docs/dingtalk.md lists the sources.
ROBOT_THROTTLE_SECONDS = {"send.too.fast": THROTTLE_SECONDS, "send.byToken.tooFast": THROTTLE_SECONDS,
                          "too.many.people": 60.0, "too.many.group": 60.0, "toomuch.msg": 60.0}
# The organisation's monthly OpenAPI quota is spent (standard edition): metered calls fail until the month
# ends or the plan grows, so messages wait an hour at a time rather than being lost.
QUOTA_CODES = frozenset({"Forbidden.AccessDenied.ApiCountLimitForOrg", "90020"})
QUOTA_RETRY_SECONDS = 3600.0

MESSAGES = {
    "http": "钉钉 {path} 返回 HTTP {status}：{code} {message}",
    "errcode": "钉钉 {path} 返回错误 {code}：{message}",
    "network": "连接钉钉 {path} 失败：{error}",
    "not_json": "钉钉 {path} 的应答不是 JSON",
}


class DingTalkApiError(DeliveryError):
    """A failed call; `code` is DingTalk's (v1.0 `code`, or the oapi errcode / sub_code), None for the network."""

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None,
                 permanent: bool = False) -> None:
        super().__init__(message, retry_after=retry_after, permanent=permanent)
        self.code = code

    @property
    def is_config_error(self) -> bool:
        return self.code in CONFIG_CODES

    @property
    def token_rejected(self) -> bool:
        return self.code in TOKEN_CODES

    @property
    def quota_exceeded(self) -> bool:
        return self.code in QUOTA_CODES


class DingTalkApi:
    """`call` for /v1.0 (token in a header), `oapi` for topapi and media (token in the query)."""

    def __init__(self, config: DingTalkConfig, engine: Engine, clock: Clock, *,
                 transport: httpx.BaseTransport | None = None, timeout: httpx.Timeout = TIMEOUT) -> None:
        self.config = config
        self._api = httpx.Client(base_url=config.api_base, timeout=timeout, transport=transport)
        self._oapi = httpx.Client(base_url=config.oapi_base, timeout=timeout, transport=transport)
        self.token = SharedToken(engine, clock, f"dingtalk:{config.client_id}", self._fetch_token)

    def close(self) -> None:
        self._api.close()
        self._oapi.close()

    def call(self, method: str, path: str, *, json: Any = None) -> dict[str, Any]:
        return self._with_token(
            lambda token: self._v1(method, path, json=json, headers={"x-acs-dingtalk-access-token": token})
        )

    def oapi(self, path: str, *, json: Any = None, data: Any = None, files: Any = None) -> dict[str, Any]:
        return self._with_token(
            lambda token: self._topapi(path, params={"access_token": token}, json=json, data=data, files=files)
        )

    def _with_token(self, send: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        """A refused token is replaced and the call tried once more; never a loop."""
        token = self.token.get()
        try:
            return send(token)
        except DingTalkApiError as exc:
            if not exc.token_rejected:
                raise
        return send(self.token.get(rejected=token))

    def _fetch_token(self, now: datetime) -> Token:
        answer = self._v1("POST", TOKEN_PATH, json={"appKey": self.config.client_id,
                                                    "appSecret": self.config.client_secret})
        return Token(str(answer["accessToken"]), now + timedelta(seconds=int(answer.get("expireIn", 7200))))

    def _v1(self, method: str, path: str, *, json: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """HTTP 200 is not enough (the SDK's `reply_*` stop there): an error body in a 200 is a failure too."""
        response = self._send(self._api, method, path, json=json, headers=headers)
        if response.status_code != 200:
            raise _http_error(response, path)
        answer = _json(response, path)
        code = answer.get("code") or (answer.get("errcode") or None)
        if code is not None or answer.get("success") is False:
            message = answer.get("message") or answer.get("errmsg") or ""
            raise DingTalkApiError(MESSAGES["errcode"].format(path=path, code=code, message=message),
                                   code=str(code) if code is not None else None)
        return answer

    def _topapi(self, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._send(self._oapi, "POST", path, **kwargs)
        if response.status_code != 200:
            raise _http_error(response, path)
        answer = _json(response, path)
        errcode = int(answer.get("errcode") or 0)
        if not errcode:
            return answer
        code = str(answer.get("sub_code") or errcode) if errcode == 88 else str(errcode)
        message = MESSAGES["errcode"].format(path=path, code=code,
                                             message=answer.get("sub_msg") or answer.get("errmsg", ""))
        if code in QUOTA_CODES:
            wait = QUOTA_RETRY_SECONDS
        elif errcode in OAPI_THROTTLE:
            wait = THROTTLE_SECONDS
        else:
            raise DingTalkApiError(message, code=code,
                                   permanent=not (errcode in OAPI_RETRYABLE or code in TOKEN_CODES))
        raise DingTalkApiError(message, code=code, retry_after=wait)

    @staticmethod
    def _send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Never puts the URL in an error: an oapi query holds the token."""
        try:
            return client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise DingTalkApiError(MESSAGES["network"].format(path=path, error=type(exc).__name__)) from None


def _json(response: httpx.Response, path: str) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        raise DingTalkApiError(MESSAGES["not_json"].format(path=path)) from None
    return answer if isinstance(answer, dict) else {}


def _http_error(response: httpx.Response, path: str) -> DingTalkApiError:
    """403 QPS limit, 429 and robot throttling (400) wait, the spent monthly quota waits an hour, 5xx and
    `systemError` (sometimes a 400) back off, a refused token is replaced, other 4xx are final."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    status, code = response.status_code, str(body.get("code") or "")
    message = MESSAGES["http"].format(path=path, status=status, code=code, message=body.get("message", ""))
    if (status == 403 and "QpsLimit" in code) or status == 429:
        return DingTalkApiError(message, code=code, retry_after=_retry_after(response))
    if code in ROBOT_THROTTLE_SECONDS:
        return DingTalkApiError(message, code=code, retry_after=ROBOT_THROTTLE_SECONDS[code])
    if code in QUOTA_CODES:
        return DingTalkApiError(message, code=code, retry_after=QUOTA_RETRY_SECONDS)
    retryable = status >= 500 or code in TOKEN_CODES or code == "systemError"
    return DingTalkApiError(message, code=code or None, permanent=not retryable)


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("retry-after", "")), THROTTLE_SECONDS)
    except ValueError:
        return THROTTLE_SECONDS
