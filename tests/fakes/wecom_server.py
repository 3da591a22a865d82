"""A fake WeCom (企业微信) server API on 127.0.0.1, and a sender that builds and posts callbacks as WeCom does."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http
import itertools
import json
import os
import re
import secrets
import struct
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

API_PREFIX = "/cgi-bin/"
TOKEN_TTL = 7200

# errmsg texts as WeCom words them; real answers append ", hint: [...] ... more info at ..." which we imitate.
ERRMSG: dict[int, str] = {
    -1: "system busy",
    40001: "invalid credential",
    40004: "invalid media type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40056: "invalid agentid",
    41001: "access_token missing",
    41002: "corpid missing",
    41004: "corpsecret missing",
    41005: "media data missing",
    40058: "invalid Request Parameter",
    42001: "access_token expired",
    42045: "Template_Card.card_action invalid",
    44004: "empty content",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    60003: "department not found",
    60020: "not allow to access from your ip",
    81013: "user & party & tag all invalid",
}
# message/send content limits for an app (doc 90236): markdown is refused over 2048 bytes (errcode 40058;
# 4096 is the group robot's limit), text is cut at 2048 bytes.
MARKDOWN_MAX_BYTES = 2048
TEXT_MAX_BYTES = 2048
# A response_code updates a card once, within 72 hours (doc 94888). The errcode for a spent or expired code is
# not documented; the fake answers 40058 (invalid parameter), which a client must not retry either way.
RESPONSE_CODE_TTL = 72 * 3600
BUTTON_CARD_TYPES = frozenset({"button_interaction", "vote_interaction", "multiple_interaction"})

MSG_TYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "file",
        "textcard",
        "news",
        "mpnews",
        "markdown",
        "miniprogram_notice",
        "template_card",
    }
)
# message/send answers a response_code only for cards that can call back (WeCom doc 90236, 模板卡片消息).
CALLBACK_CARD_TYPES = frozenset({"button_interaction", "vote_interaction", "multiple_interaction"})
MEDIA_TYPES = frozenset({"image", "voice", "video", "file"})

DEFAULT_DEPARTMENTS: list[dict[str, Any]] = [
    {"id": 1, "name": "总部", "parentid": 0, "order": 100000000, "department_leader": ["wangzong"]},
    {"id": 2, "name": "华东一组", "parentid": 1, "order": 100, "department_leader": ["zhangwei"]},
]
DEFAULT_USERS: list[dict[str, Any]] = [
    {"userid": "wangzong", "name": "王总", "department": [1], "position": "销售总监"},
    {"userid": "zhangwei", "name": "张伟", "department": [2], "position": "销售经理"},
    {"userid": "lilei", "name": "李雷", "department": [2], "position": "销售代表"},
]


def wecom_errmsg(errcode: int, text: str | None = None) -> str:
    """WeCom's error text with the hint suffix, so clients are tested against what they really see."""
    text = text or ERRMSG.get(errcode, "error")
    hint = f"{int(time.time())}_{secrets.token_hex(4)}_{secrets.token_hex(16)}"
    return (
        f"{text}, hint: [{hint}], from ip: 127.0.0.1, "
        f"more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"
    )


def api_path(path: str) -> str:
    """Accepts `message/send` or `/cgi-bin/message/send` alike."""
    path = "/" + path.lstrip("/")
    return path if path.startswith(API_PREFIX) else API_PREFIX.rstrip("/") + path


@dataclass
class UploadedPart:
    """One part of a multipart/form-data body."""

    name: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """A request the fake received and what it answered (injected faults included)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float
    json: Any = None
    parts: list[UploadedPart] = field(default_factory=list)
    status: int = 0
    response: Any = None  # the JSON answered (dict), or the raw bytes of a non-JSON answer
    injected: bool = False
    delayed: float = 0.0

    @property
    def errcode(self) -> int | None:
        return self.response.get("errcode") if isinstance(self.response, dict) else None

    @property
    def ok(self) -> bool:
        """HTTP 200 and errcode 0 (or a binary download): what WeCom would have acted on."""
        return self.status == 200 and self.errcode in (0, None)


@dataclass
class _Answer:
    status: int
    payload: Any
    content_type: str = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if isinstance(self.payload, bytes):
            return self.payload
        return json.dumps(self.payload, ensure_ascii=False).encode()


@dataclass
class _Fault:
    remaining: int | None  # None: forever
    errcode: int | None = None
    errmsg: str | None = None
    http_status: int | None = None
    seconds: float = 0.0
    skip: int = 0  # calls that pass untouched before this fault applies

    def answer(self) -> _Answer:
        status = self.http_status or 200
        if self.errcode is None:
            phrase = http.HTTPStatus(status).phrase
            return _Answer(status, f"<html><body>{status} {phrase}</body></html>".encode(), "text/html")
        return _Answer(status, {"errcode": self.errcode, "errmsg": wecom_errmsg(self.errcode, self.errmsg)})


def _error(errcode: int, text: str | None = None) -> _Answer:
    return _Answer(200, {"errcode": errcode, "errmsg": wecom_errmsg(errcode, text)})


@dataclass
class _ResponseCode:
    """A code that may update the cards of `users` under `task_id` once (`spent`), until 72 h after `issued_at`."""

    users: list[str]
    task_id: str
    issued_at: float
    spent: bool = False


@dataclass
class CardView:
    """A template card as one member sees it: the content last sent or updated, and whether its buttons still
    answer a click (`button_text` is the grey text an update put in their place)."""

    content: dict[str, Any]
    button_text: str | None = None

    @property
    def clickable(self) -> bool:
        return bool(self.content.get("button_list")) and self.button_text is None and not self.content.get(
            "replace_text")


def _take(rules: dict[str, list[_Fault]], path: str) -> _Fault | None:
    queue = rules.get(path)
    if not queue:
        return None
    rule = queue[0]
    if rule.skip:
        rule.skip -= 1
        return None
    if rule.remaining is not None:
        rule.remaining -= 1
        if rule.remaining <= 0:
            queue.pop(0)
    return rule


def _header_param(header: str, name: str) -> str | None:
    star = re.search(rf"(?:^|;)\s*{name}\*=([^;]+)", header)
    if star:  # RFC 5987: charset''percent-encoded
        return unquote(star.group(1).strip().split("''", 1)[-1])
    plain = re.search(rf'(?:^|;)\s*{name}="([^"]*)"', header) or re.search(
        rf"(?:^|;)\s*{name}=([^;]+)", header
    )
    return plain.group(1).strip() if plain else None


def parse_multipart(body: bytes, content_type: str) -> list[UploadedPart]:
    """Splits a multipart/form-data body; stdlib `cgi` is gone in 3.13 and `email` mangles UTF-8 filenames."""
    boundary = _header_param(content_type, "boundary")
    if not boundary:
        return []
    parts = []
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        parts.append(
            UploadedPart(
                name=_header_param(disposition, "name") or "",
                filename=_header_param(disposition, "filename"),
                content_type=headers.get("content-type", ""),
                data=data[:-2] if data.endswith(b"\r\n") else data,
            )
        )
    return parts


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeWeCom


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: pytest output is for our code."""


class FakeWeCom:
    """WeCom's server API (gettoken, message, media, contacts, menu) with recording and scriptable faults.

    Point `wecom.api_base` at `base_url`. Faults are queued per path and consumed in order; they are
    answered before the token check, so a scripted 42001 works whatever token the client holds.
    """

    def __init__(
        self,
        corp_id: str = "wwfakecorp0000001",
        secret: str = "fake-app-secret",
        agent_id: int = 1000002,
        departments: Iterable[Mapping[str, Any]] = DEFAULT_DEPARTMENTS,
        users: Iterable[Mapping[str, Any]] = DEFAULT_USERS,
    ) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._requests: list[RecordedRequest] = []
        self._failures: dict[str, list[_Fault]] = {}
        self._delays: dict[str, list[_Fault]] = {}
        self._late_answers: dict[str, list[_Fault]] = {}
        self._current_token: str | None = None
        self._valid_tokens: set[str] = set()
        self._expired_tokens: set[str] = set()
        self._media: dict[str, UploadedPart] = {}
        self._menu: dict[str, Any] | None = None
        self._trusted_ip = True
        self._codes: dict[str, _ResponseCode] = {}
        self._cards: dict[tuple[str, str], CardView] = {}  # (userid, task_id) → what that member sees
        self._departments: dict[int, dict[str, Any]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._routes: dict[tuple[str, str], Callable[[RecordedRequest], _Answer]] = {
            ("GET", "/cgi-bin/gettoken"): self._gettoken,
            ("POST", "/cgi-bin/message/send"): self._message_send,
            ("POST", "/cgi-bin/message/update_template_card"): self._update_template_card,
            ("POST", "/cgi-bin/media/upload"): self._media_upload,
            ("GET", "/cgi-bin/media/get"): self._media_get,
            ("GET", "/cgi-bin/department/list"): self._department_list,
            ("GET", "/cgi-bin/user/list"): self._user_list,
            ("GET", "/cgi-bin/user/simplelist"): self._user_simplelist,
            ("POST", "/cgi-bin/menu/create"): self._menu_create,
        }
        self.set_org(departments, users)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeWeCom:
        if self._server is None:
            self._stopping.clear()
            self._server = _Server(("127.0.0.1", 0), _Handler)
            self._server.fake = self
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes injected delays so shutdown does not wait for them
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeWeCom:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeWeCom is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- org ---------------------------------------------------------------------------------------

    def set_org(self, departments: Iterable[Mapping[str, Any]], users: Iterable[Mapping[str, Any]]) -> None:
        """Replaces the contacts (WeCom-shaped dicts); missing fields get WeCom's defaults and
        `is_leader_in_dept` follows the departments' `department_leader`."""
        with self._lock:
            self._departments = {}
            for given in departments:
                dept = {
                    "id": given["id"],
                    "name": given["name"],
                    "name_en": "",
                    "department_leader": [],
                    "parentid": 0 if given["id"] == 1 else 1,
                    "order": 0,
                }
                dept.update(given)
                self._departments[dept["id"]] = dept
            self._users = {}
            for given in users:
                depts = list(given["department"])
                user = {
                    "userid": given["userid"],
                    "name": given["name"],
                    "department": depts,
                    "order": [0] * len(depts),
                    "position": "",
                    "mobile": "",
                    "gender": "0",
                    "email": "",
                    "biz_mail": "",
                    "is_leader_in_dept": [
                        int(given["userid"] in self._departments.get(d, {}).get("department_leader", []))
                        for d in depts
                    ],
                    "direct_leader": [],
                    "avatar": "",
                    "thumb_avatar": "",
                    "telephone": "",
                    "alias": "",
                    "status": 1,
                    "main_department": depts[0] if depts else 1,
                }
                user.update(given)
                self._users[user["userid"]] = user

    # -- fault injection ---------------------------------------------------------------------------

    def fail_next(
        self,
        path: str,
        errcode: int | None = None,
        *,
        http_status: int | None = None,
        errmsg: str | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """The next `times` calls to `path` (after `after` calls that succeed) answer `errcode` (with HTTP 200
        unless `http_status`), or with `http_status` alone a bare HTTP error page."""
        self._add_failure(path, _Fault(times, errcode, errmsg, http_status, skip=after))

    def fail_forever(
        self,
        path: str,
        errcode: int | None = None,
        *,
        http_status: int | None = None,
        errmsg: str | None = None,
    ) -> None:
        """Every later call to `path` fails (after any queued `fail_next`) until `clear_faults`."""
        self._add_failure(path, _Fault(None, errcode, errmsg, http_status))

    def delay_next(self, path: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls to `path` are answered `seconds` late (combines with a queued failure)."""
        with self._lock:
            self._delays.setdefault(api_path(path), []).append(_Fault(times, seconds=seconds))

    def hang_after_delivery(self, path: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls to `path` are acted on and recorded at once, then answered `seconds` late: a
        client that times out meanwhile cannot know its message was delivered."""
        with self._lock:
            self._late_answers.setdefault(api_path(path), []).append(_Fault(times, seconds=seconds))

    def clear_faults(self, path: str | None = None) -> None:
        with self._lock:
            for rules in (self._failures, self._delays, self._late_answers):
                if path is None:
                    rules.clear()
                else:
                    rules.pop(api_path(path), None)

    def refuse_untrusted_ip(self) -> None:
        """As for an app created since 2022 whose 企业可信IP list lacks this server: gettoken still works, every
        other call answers 60020."""
        with self._lock:
            self._trusted_ip = False

    def expire_tokens(self) -> None:
        """Every issued token answers 42001 from now on; the next gettoken issues a fresh one."""
        with self._lock:
            self._expired_tokens |= self._valid_tokens
            self._valid_tokens.clear()
            self._current_token = None

    def _add_failure(self, path: str, fault: _Fault) -> None:
        if fault.errcode is None and fault.http_status is None:
            raise ValueError("give errcode or http_status")
        with self._lock:
            self._failures.setdefault(api_path(path), []).append(fault)

    # -- recorded state ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def calls(self, path: str) -> list[RecordedRequest]:
        path = api_path(path)
        return [r for r in self.requests if r.path == path]

    def sent_messages(self, touser: str | None = None, msgtype: str | None = None) -> list[dict[str, Any]]:
        """message/send bodies that WeCom accepted (errcode 0); failed or faulted sends are not delivered."""
        with self._lock:
            return self._delivered(touser, msgtype)

    def wait_for_messages(
        self, count: int, timeout: float = 5.0, touser: str | None = None, msgtype: str | None = None
    ) -> list[dict[str, Any]]:
        """Blocks until `count` messages were delivered, for code that sends from a background thread."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._delivered(touser, msgtype)) >= count, timeout):
                got = self._delivered(touser, msgtype)
                raise AssertionError(
                    f"expected {count} delivered messages within {timeout}s, got {len(got)}: {got}"
                )
            return self._delivered(touser, msgtype)

    def wait_for_calls(self, path: str, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Blocks until `path` was called successfully `count` times (any API, unlike `wait_for_messages`)."""
        path = api_path(path)

        def ok() -> list[RecordedRequest]:
            return [r for r in self._requests if r.path == path and r.ok]

        with self._changed:
            if not self._changed.wait_for(lambda: len(ok()) >= count, timeout):
                raise AssertionError(f"expected {count} successful calls to {path} within {timeout}s, got {ok()}")
            return ok()

    def card_updates(self) -> list[dict[str, Any]]:
        """Accepted update_template_card bodies."""
        return [r.json for r in self.calls("message/update_template_card") if r.ok]

    def click(self, userid: str, task_id: str, *, age: float = 0.0) -> str:
        """The ResponseCode WeCom puts in the callback when `userid` clicks card `task_id`, issued `age` seconds
        ago; it updates that member's card once. Raises when the member was never sent that card."""
        with self._lock:
            if (userid, task_id) not in self._cards:
                raise AssertionError(f"{userid} has no card {task_id}")
            code = secrets.token_urlsafe(48)
            self._codes[code] = _ResponseCode([userid], task_id, time.time() - age)
            return code

    def card_view(self, userid: str, task_id: str) -> CardView:
        """What `userid` now sees of card `task_id` (after any accepted update)."""
        with self._lock:
            view = self._cards[(userid, task_id)]
            return CardView(json.loads(json.dumps(view.content)), view.button_text)

    def uploads(self) -> list[UploadedPart]:
        """The `media` part of every accepted media/upload, in order."""
        return [p for r in self.calls("media/upload") if r.ok for p in r.parts if p.name == "media"]

    @property
    def menu(self) -> dict[str, Any] | None:
        """The body of the last accepted menu/create."""
        with self._lock:
            return self._menu

    def add_media(self, data: bytes, filename: str, content_type: str = "application/octet-stream") -> str:
        """Stores a file as if a member had sent it, so an inbound callback's MediaId can be downloaded."""
        media_id = "3" + secrets.token_urlsafe(48)
        with self._lock:
            self._media[media_id] = UploadedPart("media", filename, content_type, data)
        return media_id

    def clear(self) -> None:
        """Forgets recorded requests (faults, tokens and org stay)."""
        with self._lock:
            self._requests.clear()

    def _delivered(self, touser: str | None, msgtype: str | None) -> list[dict[str, Any]]:
        path = api_path("message/send")
        bodies = [r.json for r in self._requests if r.path == path and r.ok]
        if touser is not None:
            bodies = [
                b
                for b in bodies
                if touser in str(b.get("touser", "")).split("|") or "@all" in str(b.get("touser", ""))
            ]
        if msgtype is not None:
            bodies = [b for b in bodies if b.get("msgtype") == msgtype]
        return bodies

    # -- HTTP --------------------------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        content_type = handler.headers.get("Content-Type", "")
        request = RecordedRequest(
            method=handler.command,
            path=split.path,
            query={k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
            headers=dict(handler.headers.items()),
            body=body,
            at=time.time(),
        )
        if content_type.startswith("multipart/form-data"):
            request.parts = parse_multipart(body, content_type)
        elif body:
            with contextlib.suppress(ValueError):  # a bad body stays json=None and is answered 47001
                request.json = json.loads(body)
        with self._lock:
            delay = _take(self._delays, request.path)
            failure = _take(self._failures, request.path)
        if delay is not None:
            request.delayed = delay.seconds
            self._stopping.wait(delay.seconds)
        if failure is not None:
            request.injected = True
            answer = failure.answer()
        else:
            with self._lock:
                try:
                    answer = self._route(request)
                except Exception as exc:  # a bug in the fake must show up in the test, not hang the client
                    answer = _Answer(500, {"errcode": -1, "errmsg": f"fake WeCom crashed: {exc!r}"})
        request.status, request.response = answer.status, answer.payload
        # recorded before answering, so a client never sees a reply the fake has not logged
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()
            late = _take(self._late_answers, request.path)
        if late is not None:
            self._stopping.wait(late.seconds)
        data = answer.encode()
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", answer.content_type)
            handler.send_header("Content-Length", str(len(data)))
            for key, value in answer.headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. timed out during an injected delay)

    def _route(self, request: RecordedRequest) -> _Answer:
        route = self._routes.get((request.method, request.path))
        if route is None:
            return _Answer(
                404, {"errcode": -1, "errmsg": f"fake WeCom has no {request.method} {request.path}"}
            )
        if request.path != api_path("gettoken"):
            token = request.query.get("access_token")
            if not token:
                return _error(41001)
            if token in self._expired_tokens:
                return _error(42001)
            if token not in self._valid_tokens:
                return _error(40014)
            if not self._trusted_ip:
                return _error(60020)
        return route(request)

    # -- endpoints ---------------------------------------------------------------------------------

    def _gettoken(self, request: RecordedRequest) -> _Answer:
        corpid, secret = request.query.get("corpid"), request.query.get("corpsecret")
        if not corpid:
            return _error(41002)
        if corpid != self.corp_id:
            return _error(40013)
        if not secret:
            return _error(41004)
        if secret != self.secret:
            return _error(40001)
        if self._current_token is None:  # WeCom hands out the same token while it is valid
            self._current_token = secrets.token_urlsafe(96)
            self._valid_tokens.add(self._current_token)
        return _Answer(
            200, {"errcode": 0, "errmsg": "ok", "access_token": self._current_token, "expires_in": TOKEN_TTL}
        )

    def _message_send(self, request: RecordedRequest) -> _Answer:
        body = request.json
        if not isinstance(body, dict):
            return _error(47001)
        if str(body.get("agentid")) != str(self.agent_id):
            return _error(40056)
        msgtype = body.get("msgtype")
        if msgtype not in MSG_TYPES:
            return _error(40008)
        content = body.get(msgtype)
        if not isinstance(content, dict):
            return _error(47001)
        if msgtype in ("text", "markdown") and not content.get("content"):
            return _error(44004)
        size = len(str(content.get("content", "")).encode("utf-8"))
        if msgtype == "markdown" and size > MARKDOWN_MAX_BYTES:
            return _error(40058, f"markdown.content exceed max length {MARKDOWN_MAX_BYTES}. invalid Request Parameter")
        if msgtype == "text" and size > TEXT_MAX_BYTES:  # WeCom cuts it; what the member reads is the cut text
            content["content"] = str(content["content"]).encode("utf-8")[:TEXT_MAX_BYTES].decode("utf-8", "ignore")
        users = [u for u in str(body.get("touser") or "").split("|") if u]
        parties = [p for p in str(body.get("toparty") or "").split("|") if p]
        tags = [t for t in str(body.get("totag") or "").split("|") if t]
        bad_users = [] if "@all" in users else [u for u in users if u not in self._users]
        bad_parties = [p for p in parties if not p.isdigit() or int(p) not in self._departments]
        if len(bad_users) == len(users) and len(bad_parties) == len(parties):  # the fake has no tags
            return _error(81013)
        answer = {
            "errcode": 0,
            "errmsg": "ok",
            "invaliduser": "|".join(bad_users),
            "invalidparty": "|".join(bad_parties),
            "invalidtag": "|".join(tags),
            "unlicenseduser": "",
            "msgid": secrets.token_urlsafe(24),
        }
        if msgtype == "template_card":
            if refusal := _card_refusal(content):
                return refusal
            good = [u for u in (self._users if "@all" in users else users) if u not in bad_users]
            for user in good:
                self._cards[(user, str(content.get("task_id", "")))] = CardView(json.loads(json.dumps(content)))
            if content.get("card_type") in CALLBACK_CARD_TYPES or "action_menu" in content:
                answer["response_code"] = code = secrets.token_urlsafe(48)
                self._codes[code] = _ResponseCode(good, str(content.get("task_id", "")), time.time())
        return _Answer(200, answer)

    def _update_template_card(self, request: RecordedRequest) -> _Answer:
        body = request.json
        if not isinstance(body, dict) or not body.get("response_code"):
            return _error(47001)
        if str(body.get("agentid")) != str(self.agent_id):
            return _error(40056)
        code = self._codes.get(str(body["response_code"]))
        if code is None or code.spent:
            return _error(40058, "response_code is invalid or already used. invalid Request Parameter")
        if time.time() - code.issued_at > RESPONSE_CODE_TTL:
            return _error(40058, "response_code expired. invalid Request Parameter")
        users = code.users if body.get("atall") else [u for u in body.get("userids") or [] if u in code.users]
        views = [self._cards[(u, code.task_id)] for u in users if (u, code.task_id) in self._cards]
        if "template_card" in body:
            new = body["template_card"]
            if not isinstance(new, dict) or (refusal := _card_refusal(new)):
                return refusal or _error(47001)
            for view in views:
                view.content, view.button_text = json.loads(json.dumps(new)), None
        elif isinstance(body.get("button"), dict) and body["button"].get("replace_name"):
            if any(view.content.get("card_type") not in BUTTON_CARD_TYPES for view in views):
                return _error(47001)
            for view in views:
                view.button_text = str(body["button"]["replace_name"])
        else:
            return _error(47001)
        code.spent = True
        return _Answer(200, {"errcode": 0, "errmsg": "ok", "invaliduser": []})

    def _media_upload(self, request: RecordedRequest) -> _Answer:
        media_type = request.query.get("type")
        if media_type not in MEDIA_TYPES:
            return _error(40004)
        media = next((p for p in request.parts if p.name == "media"), None)
        if media is None or not media.data:
            return _error(41005)
        media_id = "3" + secrets.token_urlsafe(48)
        self._media[media_id] = media
        return _Answer(
            200,
            {
                "errcode": 0,
                "errmsg": "",
                "type": media_type,
                "media_id": media_id,
                "created_at": str(int(time.time())),
            },
        )

    def _media_get(self, request: RecordedRequest) -> _Answer:
        media = self._media.get(request.query.get("media_id", ""))
        if media is None:
            return _error(40007)
        filename = media.filename or "media"
        quoted = quote(filename, safe="")
        plain = filename if filename.isascii() else quoted  # header values must stay latin-1
        return _Answer(
            200,
            media.data,
            media.content_type or "application/octet-stream",
            {"Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quoted}"},
        )

    def _subtree(self, root: int) -> list[int]:
        ids, frontier = [root], [root]
        while frontier:
            children = [
                d for d, dept in self._departments.items() if dept["parentid"] in frontier and d not in ids
            ]
            ids += children
            frontier = children
        return ids

    def _department_list(self, request: RecordedRequest) -> _Answer:
        if request.query.get("id"):
            raw = request.query["id"]
            if not raw.isdigit() or int(raw) not in self._departments:
                return _error(60003)
            ids = self._subtree(int(raw))
        else:
            ids = list(self._departments)
        return _Answer(
            200, {"errcode": 0, "errmsg": "ok", "department": [dict(self._departments[d]) for d in ids]}
        )

    def _members(self, request: RecordedRequest) -> list[dict[str, Any]] | None:
        raw = request.query.get("department_id", "")
        if not raw.isdigit() or int(raw) not in self._departments:
            return None
        ids = self._subtree(int(raw)) if request.query.get("fetch_child") == "1" else [int(raw)]
        return [dict(u) for u in self._users.values() if set(u["department"]) & set(ids)]

    def _user_list(self, request: RecordedRequest) -> _Answer:
        members = self._members(request)
        if members is None:
            return _error(60003)
        return _Answer(200, {"errcode": 0, "errmsg": "ok", "userlist": members})

    def _user_simplelist(self, request: RecordedRequest) -> _Answer:
        members = self._members(request)
        if members is None:
            return _error(60003)
        return _Answer(
            200,
            {
                "errcode": 0,
                "errmsg": "ok",
                "userlist": [
                    {"userid": u["userid"], "name": u["name"], "department": u["department"]} for u in members
                ],
            },
        )

    def _menu_create(self, request: RecordedRequest) -> _Answer:
        if request.query.get("agentid") != str(self.agent_id):
            return _error(40056)
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("button"), list):
            return _error(47001)
        self._menu = body
        return _Answer(200, {"errcode": 0, "errmsg": "ok"})


def _card_refusal(content: dict[str, Any]) -> _Answer | None:
    """A template card WeCom would refuse (doc 90236): an unknown type, a text_notice without its required
    card_action (42045 in the global error codes, doc 96213), a button card without 1–6 buttons."""
    card_type = content.get("card_type")
    if card_type not in {"text_notice", "news_notice", *CALLBACK_CARD_TYPES}:
        return _error(47001)
    if card_type == "text_notice" and not content.get("card_action"):
        return _error(42045)
    if card_type == "button_interaction" and not 1 <= len(content.get("button_list") or []) <= 6:
        return _error(47001, "template_card.button_list size invalid")
    return None


# -- callbacks -------------------------------------------------------------------------------------

Field = tuple[str, str | int | float | None]


def _node(name: str, value: str | int | float) -> str:
    if isinstance(value, str):
        return f"<{name}><![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]></{name}>"
    return f"<{name}>{value}</{name}>"


def _xml(fields: Sequence[Field], raw: str = "") -> str:
    """Renders fields in the order given (WeCom's doc order), skipping None; `raw` is appended as is."""
    return "<xml>" + "".join(_node(k, v) for k, v in fields if v is not None) + raw + "</xml>"


class WeComCallbackSender:
    """Builds, encrypts and posts callbacks the way WeCom does, written apart from wechatpy to check it.

    Crypto per WeCom's 加解密方案 (doc 90968): AES-256-CBC, key = b64decode(EncodingAESKey + "="),
    IV = key[:16], plaintext = 16 random bytes + 4-byte big-endian length + xml + receiveid (corp id),
    PKCS#7 padded to 32 bytes; msg_signature = sha1 of sorted(token, timestamp, nonce, encrypt) joined.
    """

    def __init__(self, token: str, encoding_aes_key: str, corp_id: str, agent_id: int = 1000002) -> None:
        self.token = token
        self.corp_id = corp_id
        self.agent_id = agent_id
        self._key = base64.b64decode(encoding_aes_key + "=")
        if len(encoding_aes_key) != 43 or len(self._key) != 32:
            raise ValueError("EncodingAESKey must be 43 characters decoding to 32 bytes")
        self._msg_ids = itertools.count(7_300_000_000_000_000_000 + secrets.randbelow(10**15))

    # -- crypto ------------------------------------------------------------------------------------

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, plain: str) -> str:
        content = plain.encode()
        data = os.urandom(16) + struct.pack(">I", len(content)) + content + self.corp_id.encode()
        pad = 32 - len(data) % 32
        data += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        """Inverse of `encrypt`; raises ValueError on bad padding or a receiveid that is not our corp id."""
        decryptor = self._cipher().decryptor()
        data = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
        pad = data[-1]
        if not 1 <= pad <= 32:
            raise ValueError("bad PKCS#7 padding")
        data = data[:-pad]
        (length,) = struct.unpack(">I", data[16:20])
        content, receive_id = data[20 : 20 + length], data[20 + length :]
        if receive_id.decode() != self.corp_id:
            raise ValueError(f"receiveid {receive_id!r} is not {self.corp_id!r}")
        return content.decode()

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        return hashlib.sha1("".join(sorted([self.token, timestamp, nonce, encrypted])).encode()).hexdigest()

    def _check(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        if not hmac.compare_digest(signature, self.signature(timestamp, nonce, encrypted)):
            raise ValueError("msg_signature mismatch")

    @staticmethod
    def _stamp(timestamp: str | int | None, nonce: str | None) -> tuple[str, str]:
        return str(timestamp or int(time.time())), nonce or str(secrets.randbelow(9 * 10**9) + 10**9)

    # -- what WeCom sends --------------------------------------------------------------------------

    def url_verify_params(
        self, echostr_plain: str, timestamp: str | int | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        """Query of WeCom's GET URL verification; the server must answer `echostr_plain`."""
        timestamp, nonce = self._stamp(timestamp, nonce)
        echostr = self.encrypt(echostr_plain)
        return {
            "msg_signature": self.signature(timestamp, nonce, echostr),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }

    def encrypt_callback(
        self, xml: str, timestamp: str | int | None = None, nonce: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Query params and outer body of a POST callback carrying `xml`."""
        timestamp, nonce = self._stamp(timestamp, nonce)
        encrypted = self.encrypt(xml)
        body = _xml([("ToUserName", self.corp_id), ("Encrypt", encrypted), ("AgentID", str(self.agent_id))])
        params = {
            "msg_signature": self.signature(timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }
        return params, body.encode()

    @staticmethod
    def callback_url(url: str, params: Mapping[str, str]) -> str:
        """`url` with `params` appended through urlencode (an echostr or signature may hold `+`, `/`, `=`)."""
        return url + ("&" if urlsplit(url).query else "?") + urlencode(params)

    def post(
        self,
        url: str,
        xml: str,
        *,
        retries: int = 3,
        deadline: float = 5.0,
        timestamp: str | int | None = None,
        nonce: str | None = None,
    ) -> list[httpx.Response | httpx.HTTPError]:
        """Delivers like WeCom: the same request again on timeout, transport error or non-200, at most
        `retries` more times; returns every attempt's response or error, last one last."""
        params, body = self.encrypt_callback(xml, timestamp, nonce)
        target = self.callback_url(url, params)
        attempts: list[httpx.Response | httpx.HTTPError] = []
        with httpx.Client(timeout=deadline) as client:
            for _ in range(retries + 1):
                try:
                    response = client.post(target, content=body, headers={"Content-Type": "text/xml"})
                except httpx.HTTPError as exc:
                    attempts.append(exc)
                    continue
                attempts.append(response)
                if response.status_code == 200:
                    break
        return attempts

    # -- reading what a server built (independent of wechatpy) ---------------------------------------

    def verify_url(self, params: Mapping[str, str]) -> str:
        """Checks a URL-verification query and returns the plain echostr."""
        self._check(params["msg_signature"], params["timestamp"], params["nonce"], params["echostr"])
        return self.decrypt(params["echostr"])

    def decrypt_callback(self, params: Mapping[str, str], body: bytes | str) -> str:
        """Checks and decrypts an inbound callback (outer ToUserName/Encrypt/AgentID body)."""
        encrypted = ET.fromstring(body).findtext("Encrypt") or ""
        self._check(params["msg_signature"], params["timestamp"], params["nonce"], encrypted)
        return self.decrypt(encrypted)

    def read_reply(self, body: bytes | str) -> str:
        """Checks and decrypts a passive reply (Encrypt/MsgSignature/TimeStamp/Nonce), as WeCom would."""
        root = ET.fromstring(body)
        encrypted = root.findtext("Encrypt") or ""
        self._check(
            root.findtext("MsgSignature") or "",
            root.findtext("TimeStamp") or "",
            root.findtext("Nonce") or "",
            encrypted,
        )
        return self.decrypt(encrypted)

    # -- inner XML (WeCom docs 90239 消息格式, 90240 事件格式, 90970 通讯录回调) ---------------------

    def _head(self, from_user: str, msg_type: str, create_time: int | None) -> list[Field]:
        return [
            ("ToUserName", self.corp_id),
            ("FromUserName", from_user),
            ("CreateTime", create_time or int(time.time())),
            ("MsgType", msg_type),
        ]

    def _tail(self, msg_id: int | None) -> list[Field]:
        return [("MsgId", msg_id or next(self._msg_ids)), ("AgentID", self.agent_id)]

    def text_xml(
        self, from_user: str, content: str, *, msg_id: int | None = None, create_time: int | None = None
    ) -> str:
        return _xml(self._head(from_user, "text", create_time) + [("Content", content)] + self._tail(msg_id))

    def image_xml(
        self,
        from_user: str,
        media_id: str,
        *,
        pic_url: str | None = None,
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> str:
        pic_url = pic_url or f"https://wework.qpic.cn/wwpic/{media_id[:16]}/0"
        return _xml(
            self._head(from_user, "image", create_time)
            + [("PicUrl", pic_url), ("MediaId", media_id)]
            + self._tail(msg_id)
        )

    def voice_xml(
        self,
        from_user: str,
        media_id: str,
        *,
        format: str = "amr",
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> str:
        return _xml(
            self._head(from_user, "voice", create_time)
            + [("MediaId", media_id), ("Format", format)]
            + self._tail(msg_id)
        )

    def video_xml(
        self,
        from_user: str,
        media_id: str,
        thumb_media_id: str,
        *,
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> str:
        return _xml(
            self._head(from_user, "video", create_time)
            + [("MediaId", media_id), ("ThumbMediaId", thumb_media_id)]
            + self._tail(msg_id)
        )

    def file_xml(
        self,
        from_user: str,
        media_id: str,
        file_name: str,
        *,
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> str:
        """Not in WeCom's published app message formats (which list text/image/voice/video/location/link);
        this MediaId + FileName shape is the one third-party WeCom integrations handle. Treat as assumed."""
        return _xml(
            self._head(from_user, "file", create_time)
            + [("MediaId", media_id), ("FileName", file_name)]
            + self._tail(msg_id)
        )

    def link_xml(
        self,
        from_user: str,
        url: str,
        title: str,
        *,
        description: str = "",
        pic_url: str = "",
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> str:
        return _xml(
            self._head(from_user, "link", create_time)
            + [("Title", title), ("Description", description), ("Url", url), ("PicUrl", pic_url)]
            + self._tail(msg_id)
        )

    def location_xml(
        self,
        from_user: str,
        latitude: float,
        longitude: float,
        label: str,
        *,
        scale: int = 15,
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> str:
        return _xml(
            self._head(from_user, "location", create_time)
            + [("Location_X", latitude), ("Location_Y", longitude), ("Scale", scale), ("Label", label)]
            + self._tail(msg_id)
            + [("AppType", "wxwork")]
        )

    def _event(
        self,
        from_user: str,
        event: str,
        create_time: int | None,
        fields: Sequence[Field] = (),
    ) -> list[Field]:
        return self._head(from_user, "event", create_time) + [("Event", event), *fields]

    def click_xml(self, from_user: str, event_key: str, *, create_time: int | None = None) -> str:
        return _xml(
            self._event(
                from_user, "click", create_time, [("EventKey", event_key), ("AgentID", self.agent_id)]
            )
        )

    def view_xml(self, from_user: str, url: str, *, create_time: int | None = None) -> str:
        return _xml(
            self._event(from_user, "view", create_time, [("EventKey", url), ("AgentID", self.agent_id)])
        )

    def enter_agent_xml(self, from_user: str, *, create_time: int | None = None) -> str:
        return _xml(
            self._event(from_user, "enter_agent", create_time, [("EventKey", ""), ("AgentID", self.agent_id)])
        )

    def template_card_event_xml(
        self,
        from_user: str,
        event_key: str,
        task_id: str,
        *,
        card_type: str = "button_interaction",
        response_code: str | None = None,
        selected_items: Mapping[str, Sequence[str]] | None = None,
        create_time: int | None = None,
    ) -> str:
        """A card click; `selected_items` (question key → option ids) only for vote/multiple cards."""
        selected = ""
        if selected_items:
            selected = (
                "<SelectedItems>"
                + "".join(
                    "<SelectedItem>"
                    + _node("QuestionKey", key)
                    + "<OptionIds>"
                    + "".join(_node("OptionId", option) for option in options)
                    + "</OptionIds></SelectedItem>"
                    for key, options in selected_items.items()
                )
                + "</SelectedItems>"
            )
        return _xml(
            self._event(
                from_user,
                "template_card_event",
                create_time,
                [
                    ("EventKey", event_key),
                    ("TaskId", task_id),
                    ("CardType", card_type),
                    ("ResponseCode", response_code or secrets.token_urlsafe(48)),
                    ("AgentID", self.agent_id),
                ],
            ),
            raw=selected,
        )

    def change_contact_xml(
        self,
        change_type: str,
        user_id: str,
        *,
        department: Sequence[int] | None = None,
        name: str | None = None,
        new_user_id: str | None = None,
        main_department: int | None = None,
        is_leader_in_dept: Sequence[int] | None = None,
        direct_leader: Sequence[str] | None = None,
        position: str | None = None,
        mobile: str | None = None,
        gender: int | None = None,
        email: str | None = None,
        status: int | None = None,
        avatar: str | None = None,
        alias: str | None = None,
        create_time: int | None = None,
    ) -> str:
        """create_user / update_user / delete_user, sent by `sys`. Fields left None are omitted: since
        2022-08-15 WeCom sends newly configured callback URLs only UserID and Department."""

        def joined(values: Sequence[Any] | None) -> str | None:
            return None if values is None else ",".join(str(v) for v in values)

        return _xml(
            self._event(
                "sys",
                "change_contact",
                create_time,
                [
                    ("ChangeType", change_type),
                    ("UserID", user_id),
                    ("NewUserID", new_user_id),
                    ("Name", name),
                    ("Department", joined(department)),
                    ("MainDepartment", main_department),
                    ("IsLeaderInDept", joined(is_leader_in_dept)),
                    ("DirectLeader", joined(direct_leader)),
                    ("Position", position),
                    ("Mobile", mobile),
                    ("Gender", gender),
                    ("Email", email),
                    ("Status", status),
                    ("Avatar", avatar),
                    ("Alias", alias),
                ],
            )
        )
