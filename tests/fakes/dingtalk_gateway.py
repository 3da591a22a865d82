"""A fake DingTalk (钉钉) on 127.0.0.1: the Stream gateway the real dingtalk-stream SDK connects to, and the OpenAPI.

Three loopback listeners, one background thread with its own asyncio loop:
  * `api_base`  (api.dingtalk.com): `POST /v1.0/gateway/connections/open` and the /v1.0 OpenAPI;
  * `gateway_url` (wss-open-connection.dingtalk.com): the websocket `/connect?ticket=…`;
  * `oapi_base` (oapi.dingtalk.com): gettoken, topapi contacts/report (create, template by name),
    media/upload and session webhooks.

Pointing liuhen at the fake: `liuhen_config()` sets `api_base`/`oapi_base`; liuhen opens the Stream
connection at `api_base` itself (the SDK's own `DINGTALK_OPENAPI_ENDPOINT` constant is never touched).

Strict where DingTalk is (each has a self-test in test_dingtalk_fake.py):
  * cards: the template must be published (`card_templates`); each cardParamMap value ≤ 1 KB
    (`CARD_PARAM_MAX_BYTES`); private data shows only in variables the template marks 私有 (`seen_by`);
    a card whose click is not yet ACKed is not updated through the API (answer in the ACK instead).
  * faults: `throttle_body(code)` for robot throttling (HTTP 400 `send.too.fast` …), `quota_body()` for the
    monthly OpenAPI quota (403 `ApiCountLimitForOrg`, oapi 90020), oapi 90002 / 90018 bodies.

SDK behaviour this fake was checked against (0.24.3, websockets 17):
  * `start()` reconnects forever: at once after a clean close (a `disconnect` SYSTEM frame, or a close
    frame with code 1000/1001 → `graceful=True` here); after `asyncio.sleep(10)` on an abnormal close
    (`ConnectionClosedError`, `graceful=False`); after 3 s when the websocket cannot connect and 10 s
    when the open call fails. The 10 s is a literal inside `start()`: no attribute or subclass hook
    shortens it short of copying `start()`.
  * `start()` swallows the first `CancelledError` (it is caught with `ConnectionClosedError` and followed
    by `sleep(10)`): stop it by cancelling until the task is done (see the self-tests).
  * A handler that raises sends no ACK; ACKs go to the client's *latest* socket.
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
import hashlib
import json
import secrets
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypedDict, TypeVar, Unpack
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

TOPIC_CHATBOT = "/v1.0/im/bot/messages/get"
TOPIC_CARD_CALLBACK = "/v1.0/card/instances/callback"
OPEN_CONNECTION_PATH = "/v1.0/gateway/connections/open"
TOKEN_PATH = "/v1.0/oauth2/accessToken"
SESSION_WEBHOOK_PATH = "/robot/sendBySession"
# Robot message templates (msgKey) of the robot send APIs.
MSG_KEYS = frozenset(
    {
        "sampleText",
        "sampleMarkdown",
        "sampleImageMsg",
        "sampleLink",
        "sampleAudio",
        "sampleFile",
        "sampleVideo",
    }
    | {"sampleActionCard"}
    | {f"sampleActionCard{i}" for i in range(2, 7)}
)
BATCH_SEND_MAX_USERS = 20
CARD_TEMPLATE_ID = "liuhen-card.schema"
# The liuhen template as docs/dingtalk.md step 4 builds it: private data only reaches variables marked 私有.
DEFAULT_CARD_TEMPLATES: Mapping[str, frozenset[str]] = {CARD_TEMPLATE_ID: frozenset({"buttons", "status"})}
CARD_PARAM_MAX_BYTES = 1024  # each cardParamMap value: "1 KB" in the card data instructions, counted as UTF-8
# Robot send throttling: HTTP 400 with these codes (batchSend / groupMessages/send error tables).
ROBOT_THROTTLE_CODES = ("send.too.fast", "send.byToken.tooFast", "too.many.people", "too.many.group", "toomuch.msg")
QUOTA_CODE = "Forbidden.AccessDenied.ApiCountLimitForOrg"  # v1.0: the organisation's monthly OpenAPI quota is spent
OAPI_QUOTA_ERRCODE = 90020  # the same on oapi
OAPI_BUSY_ERRCODE = 90002  # oapi: the service is busy, back off
# 日志 templates as `report/template/getbyname` answers them; the fields are DingTalk's stock 日报.
DEFAULT_REPORT_TEMPLATES: tuple[Mapping[str, Any], ...] = (
    {"id": "tmpl-daily", "name": "日报", "fields": [
        {"field_name": "今日完成工作", "sort": 0, "type": 1},
        {"field_name": "未完成工作", "sort": 1, "type": 1},
        {"field_name": "需协调工作", "sort": 2, "type": 1},
    ]},
)

DEFAULT_DEPARTMENTS: tuple[Mapping[str, Any], ...] = (
    {"dept_id": 1, "name": "留痕科技"},
    {"dept_id": 2, "name": "华东一组", "parent_id": 1, "dept_manager_userid_list": ["0101"]},
    {"dept_id": 3, "name": "华北一组", "parent_id": 1, "dept_manager_userid_list": ["0201"]},
)
DEFAULT_USERS: tuple[Mapping[str, Any], ...] = (
    {"userid": "0001", "name": "管理员", "dept_id_list": [1], "title": "总经理"},
    {"userid": "0101", "name": "张伟", "dept_id_list": [2], "title": "销售经理"},
    {"userid": "0123", "name": "李雷", "dept_id_list": [2], "title": "销售代表"},
    {"userid": "0201", "name": "刘洋", "dept_id_list": [3], "title": "销售经理"},
    {"userid": "0202", "name": "韩梅梅", "dept_id_list": [3], "title": "销售代表"},
)

_T = TypeVar("_T")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ChatOpts(TypedDict, total=False):
    """Optional fields shared by the chatbot payload builders."""

    conversation_id: str  # default: the sender's 1:1 conversation, or the fake's sales group
    conversation_title: str  # group chats only
    msg_id: str  # DingTalk's business message id (the dedupe key), default random
    create_at: int  # epoch ms, default now
    webhook_ttl: float  # seconds the sessionWebhook stays valid (negative: already expired)


@dataclass
class ApiRequest:
    """One HTTP call the code under test made to the fake platform, with the answer it got."""

    host: str  # "api" | "oapi"
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, else form fields, else text
    status: int = 0
    response: Any = None


@dataclass
class _Conn:
    number: int
    ws: web.WebSocketResponse
    request: web.Request
    connection_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    dropped: bool = False


@dataclass
class _Fault:
    status: int
    body: Any
    times: int


@dataclass
class _Hang:
    seconds: float
    after_delivery: bool
    times: int


_ENTRY = web.RequestKey("entry", ApiRequest)


def _rid() -> str:
    return str(uuid.uuid4()).upper()


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def _api_error(status: int, code: str, message: str) -> web.Response:
    return _json({"code": code, "requestid": _rid(), "message": message}, status)


def _oapi_error(errcode: int, errmsg: str) -> web.Response:
    return _json({"errcode": errcode, "errmsg": errmsg, "request_id": _rid()})


def _oapi_auth_error(sub_code: str, sub_msg: str) -> web.Response:
    return _json(
        {
            "errcode": 88,
            "sub_code": sub_code,
            "sub_msg": sub_msg,
            "errmsg": f"ding talk error[subcode={sub_code},submsg={sub_msg}]",
            "request_id": _rid(),
        }
    )


def throttle_body(code: str) -> dict[str, Any]:
    """The body of a throttled robot send (HTTP 400), e.g. `throttle_body("send.too.fast")`."""
    return {"code": code, "requestid": _rid(), "message": "发送太快，请稍后重试"}


def quota_body(host: str = "api") -> dict[str, Any]:
    """The monthly OpenAPI quota spent: v1.0 answers HTTP 403 with this body, oapi HTTP 200 with errcode 90020."""
    message = "您的企业本月api调用量已超过限制，调用量：10001次，额度：10000次，请登录开发者后台-资源管理-查看用量明细"
    if host == "oapi":
        return {"errcode": OAPI_QUOTA_ERRCODE, "errmsg": message}
    return {"code": QUOTA_CODE, "requestid": _rid(), "message": message}


def _default_fault_body(host: str, status: int) -> Any:
    """Bodies seen from the real platform: v1.0 throttling is HTTP 403, oapi errors are errcode + HTTP 200."""
    if host == "oapi":
        return (
            {"errcode": 90018, "errmsg": "调用接口超过限流"}
            if status == 200
            else {"errcode": -1, "errmsg": "系统繁忙"}
        )
    if status == 403:
        return {
            "code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
            "requestid": _rid(),
            "message": "调用该接口触发当前应用的限流",
        }
    return {"code": "systemError", "requestid": _rid(), "message": "系统错误"}


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        if content_type == "application/x-www-form-urlencoded":
            return dict(parse_qsl(text))
        return text


def _encrypted_id(value: str) -> str:
    """DingTalk's opaque ids (senderId, chatbotUserId) look like `$:LWCP_v1:$<base64>`."""
    return "$:LWCP_v1:$" + base64.b64encode(hashlib.sha256(value.encode()).digest()[:24]).decode()


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def _now_ms() -> int:
    return int(time.time() * 1000)


class FakeDingTalk:
    """DingTalk's Stream gateway and OpenAPI with recording, ACK tracking and scriptable faults.

    Frames pushed while no client is connected wait for the next connection. Robot messages are
    pushed once (as DingTalk does) unless `redeliver_unacked_after`, `redeliver` or `drop_before_ack`
    say otherwise. HTTP faults are answered before the token check.

    Recorded state (read it, don't write it): `subscriptions` (of the last open call),
    `connection_count`, `sent` [(connection number, frame)], `client_frames`, `acks` {messageId: first
    ACK}, `api_requests`, `robot_sent`, `cards` {outTrackId: template_id, card_data, private_data, …},
    `reports`, `files` {downloadCode: (name, bytes)}, `report_templates` {name: template} (set it to add some).
    """

    def __init__(
        self,
        client_id: str = "dingfakeclientid0001",
        client_secret: str = "fake-client-secret",
        robot_code: str | None = None,
        corp_id: str = "dingfakecorp00000001",
        token_ttl: int = 7200,
        departments: Iterable[Mapping[str, Any]] = DEFAULT_DEPARTMENTS,
        users: Iterable[Mapping[str, Any]] = DEFAULT_USERS,
        card_templates: Mapping[str, Iterable[str]] = DEFAULT_CARD_TEMPLATES,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.robot_code = robot_code or client_id
        self.corp_id = corp_id
        self.token_ttl = token_ttl
        self.app_id = str(uuid.UUID(bytes=hashlib.md5(client_id.encode()).digest()))
        self.group_conversation_id = (
            "cid" + base64.b64encode(hashlib.sha256(corp_id.encode()).digest()[:16]).decode()
        )
        self._cond = threading.Condition(threading.RLock())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runners: dict[str, web.AppRunner] = {}
        self._sites: dict[str, web.SockSite] = {}
        self._ports = {"api": 0, "oapi": 0, "gateway": 0}
        # stream state
        self.subscriptions: list[dict[str, Any]] = []
        self.connection_count = 0
        self.client_frames: list[dict[str, Any]] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.sent_at: dict[str, float] = {}  # messageId → perf_counter() of its first write (benchmarks)
        self.acked_at: dict[str, float] = {}  # messageId → perf_counter() when its first ACK arrived
        self.sent: list[tuple[int, dict[str, Any]]] = []
        self._conns: list[_Conn] = []
        self._tickets: set[str] = set()
        self._frames: dict[str, dict[str, Any]] = {}
        self._outbox: list[str] = []
        self._drop_next = 0
        self._drop_graceful = False
        self._redeliver_after: float | None = None
        self._max_redeliveries = 0
        self._redelivered: Counter[str] = Counter()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        # OpenAPI state
        self._requests: list[ApiRequest] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._hangs: dict[str, list[_Hang]] = {}
        self._tokens: set[str] = set()
        self._sessions: dict[str, tuple[str, int]] = {}
        self.files: dict[str, tuple[str, bytes]] = {}
        self.media: dict[str, tuple[str, bytes]] = {}  # media_id → (filename, bytes) uploaded via media/upload
        self.cards: dict[str, dict[str, Any]] = {}
        # published card templates: template id → the variables marked 私有 (private)
        self.card_templates: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in card_templates.items()}
        self.card_updates_during_click: list[str] = []  # outTrackIds updated through the API while a click was unanswered
        self._clicks_pending: dict[str, str] = {}  # messageId of an un-ACKed card callback → its outTrackId
        self.robot_sent: list[dict[str, Any]] = []
        self.reports: list[dict[str, Any]] = []
        self.report_templates: dict[str, dict[str, Any]] = {t["name"]: dict(t) for t in DEFAULT_REPORT_TEMPLATES}
        self._session_replies: list[tuple[str, dict[str, Any]]] = []
        self._departments: dict[int, dict[str, Any]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self.set_org(departments, users)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeDingTalk:
        """Starts the listeners (fresh random ports the first time, the same ports after `stop`)."""
        if self._thread is not None:
            return self
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-dingtalk", daemon=True)
        self._thread.start()
        self._call(self._astart())
        return self

    def stop(self) -> None:
        """Closes client connections (1001 going away) and the listeners; recorded state is kept."""
        if self._thread is None or self._loop is None:
            return
        self._call(self._astop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._thread = self._loop = None

    def restart(self, graceful: bool = True) -> None:
        """Replaces the gateway listener on the same port, then drops every stream connection."""
        self._call(self._arestart(graceful))

    def __enter__(self) -> FakeDingTalk:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def api_base(self) -> str:
        return self._base("api", "http")

    @property
    def oapi_base(self) -> str:
        return self._base("oapi", "http")

    @property
    def gateway_url(self) -> str:
        return self._base("gateway", "ws")

    @property
    def open_connection_url(self) -> str:
        return self.api_base + OPEN_CONNECTION_PATH

    def liuhen_config(self, card_template_id: str = CARD_TEMPLATE_ID) -> dict[str, Any]:
        """The `dingtalk:` config section that points liuhen at this fake."""
        return {
            "enabled": True, "client_id": self.client_id, "client_secret": self.client_secret,
            "robot_code": self.robot_code, "api_base": self.api_base, "oapi_base": self.oapi_base,
            "card_template_id": card_template_id,
        }

    def _base(self, name: str, scheme: str) -> str:
        if not self._ports[name]:
            raise RuntimeError("FakeDingTalk is not started")
        return f"{scheme}://127.0.0.1:{self._ports[name]}"

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("FakeDingTalk is not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _astart(self) -> None:
        apps = {"api": self._api_app(), "oapi": self._oapi_app(), "gateway": self._gateway_app()}
        for name, app in apps.items():
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            self._runners[name] = runner
            await self._listen(name)

    async def _listen(self, name: str) -> None:
        sock = _bind(self._ports[name])
        self._ports[name] = sock.getsockname()[1]
        site = web.SockSite(self._runners[name], sock)
        await site.start()
        self._sites[name] = site

    async def _astop(self) -> None:
        for conn in self._live():
            await self._drop(conn, graceful=True, code=1001)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for runner in self._runners.values():
            await runner.cleanup()
        self._runners.clear()
        self._sites.clear()

    async def _arestart(self, graceful: bool) -> None:
        await self._sites["gateway"].stop()
        await self._listen("gateway")
        for conn in self._live():
            await self._drop(conn, graceful, code=1001)

    # -- org ---------------------------------------------------------------------------------------

    def set_org(self, departments: Iterable[Mapping[str, Any]], users: Iterable[Mapping[str, Any]]) -> None:
        """Replaces the contacts (DingTalk-shaped dicts: `dept_id`, `name`, `parent_id`,
        `dept_manager_userid_list`; `userid`, `name`, `dept_id_list`, …); leaders follow the managers."""
        with self._cond:
            self._departments = {}
            for given in departments:
                dept = {
                    "dept_id": given["dept_id"],
                    "name": given["name"],
                    "dept_manager_userid_list": [],
                    "create_dept_group": True,
                    "auto_add_user": True,
                    "order": given["dept_id"],
                }
                dept.update(given)
                self._departments[dept["dept_id"]] = dept
            self._users = {}
            for given in users:
                user = {
                    "userid": given["userid"],
                    "unionid": "union" + hashlib.sha256(given["userid"].encode()).hexdigest()[:20],
                    "name": given["name"],
                    "avatar": "",
                    "state_code": "86",
                    "mobile": "",
                    "hide_mobile": False,
                    "telephone": "",
                    "job_number": "",
                    "title": "",
                    "email": "",
                    "work_place": "",
                    "remark": "",
                    "dept_id_list": [1],
                    "active": True,
                    "admin": False,
                    "boss": False,
                    "exclusive_account": False,
                }
                user.update(given)
                self._users[user["userid"]] = user

    def _is_leader(self, userid: str, dept_id: int) -> bool:
        return userid in self._departments.get(dept_id, {}).get("dept_manager_userid_list", [])

    # -- stream: delivering frames ---------------------------------------------------------------

    def deliver_chatbot(self, payload: Mapping[str, Any], message_id: str | None = None) -> str:
        """Pushes a robot message (CALLBACK on `/v1.0/im/bot/messages/get`); returns the frame's messageId."""
        return self._deliver("CALLBACK", TOPIC_CHATBOT, dict(payload), message_id)

    def deliver_card_callback(
        self,
        out_track_id: str,
        user_id: str,
        params: Mapping[str, Any] | None = None,
        action_id: str = "submit",
        message_id: str | None = None,
    ) -> str:
        """Pushes a card button click (CALLBACK on `/v1.0/card/instances/callback`) as the card platform
        sends it: `content` and `value` are the JSON string `{"cardPrivateData": {"actionIds", "params"}}`."""
        private = json.dumps({"cardPrivateData": {"actionIds": [action_id], "params": dict(params or {})}})
        with self._cond:
            space = self.cards.get(out_track_id, {}).get("open_space_id", "")
        space_id = space.split(".", 1)[1] if "." in space else self.single_conversation_id(user_id)
        data = {
            "extension": "{}",
            "corpId": self.corp_id,
            "spaceType": "im",
            "userIdType": 1,
            "type": "actionCallback",
            "userId": user_id,
            "content": private,
            "spaceId": space_id,
            "outTrackId": out_track_id,
            "value": private,
        }
        mid = message_id or str(uuid.uuid4())
        with self._cond:
            self._clicks_pending[mid] = out_track_id
        return self._deliver("CALLBACK", TOPIC_CARD_CALLBACK, data, mid)

    def deliver_event(self, event_type: str, data: Mapping[str, Any], message_id: str | None = None) -> str:
        """Pushes an EVENT frame (e.g. `user_add_org` with `contact_event(...)`); the event fields travel
        in the headers and the topic is `*`, the subscription the SDK sends for events."""
        headers = {
            "eventBornTime": str(_now_ms()),
            "eventCorpId": self.corp_id,
            "eventId": uuid.uuid4().hex,
            "eventType": event_type,
            "eventUnifiedAppId": self.app_id,
        }
        return self._deliver("EVENT", "*", dict(data), message_id, headers)

    def deliver_raw(self, topic: str, data: str, type_: str = "CALLBACK") -> str:
        """Pushes a frame whose `data` string goes out as given (malformed JSON, a JSON array …)."""
        return self._deliver(type_, topic, data, None)

    def send_system_ping(self) -> str:
        """SYSTEM `ping` with an opaque value; the SDK's ACK echoes the data."""
        return self._deliver("SYSTEM", "ping", {"opaque": uuid.uuid4().hex}, None, live_only=True)

    def send_disconnect(self, reason: str = "gateway rebalancing") -> str:
        """SYSTEM `disconnect`: the SDK ACKs, closes the socket itself and reconnects at once."""
        return self._deliver("SYSTEM", "disconnect", {"reason": reason}, None, live_only=True)

    def redeliver(self, message_id: str) -> None:
        """Pushes a frame again, same messageId and payload."""
        self._call(self._send(message_id))

    def redeliver_unacked_after(self, seconds: float | None, max_redeliveries: int = 3) -> None:
        """From now on a CALLBACK/EVENT frame without an ACK after `seconds` is pushed again (None: off)."""
        with self._cond:
            self._redeliver_after = seconds
            self._max_redeliveries = max_redeliveries

    def drop_before_ack(self, next_n: int = 1, graceful: bool = False) -> None:
        """The next `next_n` CALLBACK/EVENT frames: close the socket right after writing the frame and
        ignore its ACK; the frame is pushed again on the next connection. `graceful` sends close code
        1000 (the SDK reconnects at once); otherwise the TCP connection is aborted (the SDK waits 10 s)."""
        with self._cond:
            self._drop_next = next_n
            self._drop_graceful = graceful

    def drop_connection(self, graceful: bool = False) -> None:
        """Closes every stream connection: aborts TCP (SDK waits 10 s) or, `graceful`, close code 1000."""
        self._call(self._drop_all(graceful))

    async def _drop_all(self, graceful: bool) -> None:
        for conn in self._live():
            await self._drop(conn, graceful)

    def _deliver(
        self,
        type_: str,
        topic: str,
        data: dict[str, Any] | str,
        message_id: str | None,
        extra_headers: Mapping[str, str] | None = None,
        live_only: bool = False,
    ) -> str:
        if live_only and not self.connected:
            raise RuntimeError("no stream client is connected")
        mid = message_id or str(uuid.uuid4())
        headers = {
            "appId": self.app_id,
            "contentType": "application/json",
            "messageId": mid,
            "time": str(_now_ms()),
            "topic": topic,
            **(extra_headers or {}),
        }
        frame = {
            "specVersion": "1.0",
            "type": type_,
            "headers": headers,
            "data": data if isinstance(data, str) else json.dumps(data, ensure_ascii=False),
        }
        with self._cond:
            self._frames[mid] = frame
        self._call(self._send(mid))
        return mid

    def _live(self) -> list[_Conn]:
        with self._cond:
            return [c for c in self._conns if not c.dropped]

    async def _send(self, mid: str) -> None:
        live = self._live()
        if not live:
            with self._cond:
                if mid not in self._outbox:
                    self._outbox.append(mid)
            return
        conn = live[-1]
        frame = self._frames[mid]
        frame = {**frame, "headers": {**frame["headers"], "connectionId": conn.connection_id}}
        business = frame["type"] != "SYSTEM"
        with self._cond:
            drop = business and self._drop_next > 0
            if drop:
                self._drop_next -= 1
                conn.dropped = True  # before the write, so an ACK racing the close is ignored
        try:
            await conn.ws.send_str(json.dumps(frame, ensure_ascii=False))
        except ConnectionError:
            with self._cond:
                self._outbox.append(mid)
            return
        with self._cond:
            self.sent_at.setdefault(mid, time.perf_counter())
            self.sent.append((conn.number, frame))
            if drop:
                self._outbox.append(mid)
            self._cond.notify_all()
        if drop:
            await self._drop(conn, self._drop_graceful)
        elif business:
            self._arm_redelivery(mid)

    def _arm_redelivery(self, mid: str) -> None:
        with self._cond:
            if self._redeliver_after is None or self._redelivered[mid] >= self._max_redeliveries:
                return
            assert self._loop is not None
            self._timers[mid] = self._loop.call_later(self._redeliver_after, self._redeliver_due, mid)

    def _redeliver_due(self, mid: str) -> None:
        with self._cond:
            self._timers.pop(mid, None)
            if mid in self.acks:
                return
            self._redelivered[mid] += 1
        assert self._loop is not None
        self._loop.create_task(self._send(mid))

    async def _drop(self, conn: _Conn, graceful: bool, code: int = 1000) -> None:
        conn.dropped = True
        if graceful:
            await conn.ws.close(code=code)
        elif conn.request.transport is not None:
            conn.request.transport.abort()

    # -- stream: the gateway ----------------------------------------------------------------------

    def _gateway_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/connect", self._connect)
        return app

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._cond:
            if ticket not in self._tickets:
                return _api_error(401, "InvalidTicket", "ticket不合法或已过期")
            self._tickets.discard(ticket)  # single use
        ws = web.WebSocketResponse(timeout=2.0)
        await ws.prepare(request)
        with self._cond:
            self.connection_count += 1
            conn = _Conn(self.connection_count, ws, request)
            self._conns.append(conn)
            queued, self._outbox = self._outbox, []
            self._cond.notify_all()
        try:
            for mid in queued:
                await self._send(mid)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_client_frame(conn, msg.data)
        finally:
            with self._cond:
                self._conns.remove(conn)
                self._cond.notify_all()
        return ws

    def _on_client_frame(self, conn: _Conn, text: str) -> None:
        if conn.dropped:
            return
        frame = json.loads(text)
        mid = frame.get("headers", {}).get("messageId")
        with self._cond:
            self.client_frames.append(frame)
            if "code" in frame and mid and mid not in self.acks:
                self.acks[mid] = frame
                self.acked_at[mid] = time.perf_counter()
                timer = self._timers.pop(mid, None)
                if timer is not None:
                    timer.cancel()
                if mid in self._outbox:
                    self._outbox.remove(mid)
                self._apply_card_response(mid, frame)
                self._clicks_pending.pop(mid, None)
            self._cond.notify_all()

    def _apply_card_response(self, mid: str, ack: dict[str, Any]) -> None:
        """A card callback's ACK may carry new card data, which the platform applies to the card."""
        pushed = self._frames.get(mid)
        if pushed is None or pushed["headers"]["topic"] != TOPIC_CARD_CALLBACK:
            return
        click = json.loads(pushed["data"])
        card = self.cards.get(click["outTrackId"])
        response = json.loads(ack.get("data") or "{}").get("response")
        if card is None or not isinstance(response, dict):
            return
        self._update_card(card, response.get("cardData"), response.get("cardUpdateOptions"))
        private = (response.get("userPrivateData") or {}).get("cardParamMap")
        if isinstance(private, dict):
            self._set_private(card, click["userId"], private, response.get("cardUpdateOptions"))

    @staticmethod
    def _set_private(card: dict[str, Any], user: str, params: dict[str, Any], options: Any) -> None:
        by_key = isinstance(options, dict) and options.get("updatePrivateDataByKey")
        card["private_data"][user] = {**card["private_data"].get(user, {}), **params} if by_key else dict(params)

    def seen_by(self, out_track_id: str, user_id: str) -> dict[str, Any]:
        """The card's variables as `user_id` sees them: their private data overrides only the variables the
        template marks 私有; private data for an ordinary variable changes nothing on screen."""
        with self._cond:
            card = self.cards[out_track_id]
            private = self.card_templates.get(card["template_id"], frozenset())
            mine = card["private_data"].get(user_id, {})
            return {**card["card_data"], **{k: v for k, v in mine.items() if k in private}}

    @property
    def connected(self) -> bool:
        return bool(self._live())

    def deliveries(self, message_id: str) -> int:
        """How many times a frame was written to a socket."""
        with self._cond:
            return sum(1 for _, f in self.sent if f["headers"]["messageId"] == message_id)

    def wait_for_ack(self, message_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """Blocks until the client ACKs the frame; returns the ACK frame (`data` is a JSON string)."""
        with self._cond:
            if not self._cond.wait_for(lambda: message_id in self.acks, timeout):
                raise AssertionError(
                    f"no ACK for {message_id} within {timeout}s; {self.connection_count} connections"
                )
            return self.acks[message_id]

    def wait_for_connection(self, n: int = 1, timeout: float = 5.0) -> None:
        """Blocks until the gateway has accepted `n` connections in all and one is live."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.connection_count >= n and self.connected, timeout):
                raise AssertionError(
                    f"expected connection #{n} within {timeout}s, have {self.connection_count}"
                )

    # -- builders ----------------------------------------------------------------------------------

    def single_conversation_id(self, staff_id: str) -> str:
        """The stable 1:1 conversation id between a member and the robot."""
        return (
            "cid"
            + base64.b64encode(
                hashlib.sha256(f"{self.robot_code}/{staff_id}".encode()).digest()[:16]
            ).decode()
        )

    def chatbot_text(
        self, staff_id: str, text: str, conversation_type: str = "1", **opts: Unpack[ChatOpts]
    ) -> dict[str, Any]:
        """A text message. In groups DingTalk strips the @robot mention but keeps the space after it."""
        payload = self._chatbot_base(staff_id, "text", conversation_type, opts)
        payload["text"] = {"content": (" " + text) if conversation_type == "2" else text}
        return payload

    def chatbot_file(
        self,
        staff_id: str,
        file_name: str,
        content: bytes = b"%PDF-1.4 fake receipt",
        conversation_type: str = "1",
        **opts: Unpack[ChatOpts],
    ) -> dict[str, Any]:
        """A file message; `content` is served through `/v1.0/robot/messageFiles/download`."""
        payload = self._chatbot_base(staff_id, "file", conversation_type, opts)
        payload["content"] = {
            "spaceId": str(secrets.randbelow(10**10)),
            "fileName": file_name,
            "downloadCode": self.add_file(file_name, content),
            "fileId": str(secrets.randbelow(10**11)),
        }
        return payload

    def chatbot_picture(
        self,
        staff_id: str,
        content: bytes = b"\x89PNG\r\n\x1a\nfake",
        conversation_type: str = "1",
        **opts: Unpack[ChatOpts],
    ) -> dict[str, Any]:
        payload = self._chatbot_base(staff_id, "picture", conversation_type, opts)
        code = self.add_file("image.png", content)
        payload["content"] = {"pictureDownloadCode": code, "downloadCode": code}
        return payload

    def chatbot_audio(
        self,
        staff_id: str,
        recognition: str,
        duration_ms: int = 3000,
        content: bytes = b"#!AMR\nfake",
        conversation_type: str = "1",
        **opts: Unpack[ChatOpts],
    ) -> dict[str, Any]:
        """A voice message with DingTalk's own speech recognition text."""
        payload = self._chatbot_base(staff_id, "audio", conversation_type, opts)
        payload["content"] = {
            "duration": duration_ms,
            "downloadCode": self.add_file("voice.amr", content),
            "recognition": recognition,
        }
        return payload

    def chatbot_rich_text(
        self,
        staff_id: str,
        parts: Iterable[str | bytes],
        conversation_type: str = "1",
        **opts: Unpack[ChatOpts],
    ) -> dict[str, Any]:
        """Text runs (str) interleaved with pictures (bytes), in order."""
        payload = self._chatbot_base(staff_id, "richText", conversation_type, opts)
        items: list[dict[str, Any]] = []
        for part in parts:
            if isinstance(part, bytes):
                code = self.add_file("image.png", part)
                items.append({"pictureDownloadCode": code, "downloadCode": code, "type": "picture"})
            else:
                items.append({"text": part})
        payload["content"] = {"richText": items}
        return payload

    @staticmethod
    def contact_event(user_ids: list[str]) -> dict[str, Any]:
        """The data of a contact event (`user_add_org`, `user_modify_org`, `user_leave_org`) in Stream mode."""
        return {"timeStamp": str(_now_ms()), "userId": list(user_ids)}

    def add_file(self, file_name: str, content: bytes) -> str:
        """Stores a file as if a member had sent it; returns its downloadCode."""
        code = secrets.token_urlsafe(32)
        with self._cond:
            self.files[code] = (file_name, content)
        return code

    def _chatbot_base(
        self, staff_id: str, msgtype: str, conversation_type: str, opts: ChatOpts
    ) -> dict[str, Any]:
        group = conversation_type == "2"
        session = secrets.token_hex(16)
        expires = _now_ms() + int(opts.get("webhook_ttl", 5400.0) * 1000)
        conversation_id = opts.get("conversation_id") or (
            self.group_conversation_id if group else self.single_conversation_id(staff_id)
        )
        with self._cond:
            self._sessions[session] = (conversation_id, expires)
            nick = self._users.get(staff_id, {}).get("name", staff_id)
        payload: dict[str, Any] = {
            "conversationId": conversation_id,
            "chatbotCorpId": self.corp_id,
            "chatbotUserId": _encrypted_id(self.robot_code),
            "msgId": opts.get("msg_id") or "msg" + base64.b64encode(uuid.uuid4().bytes).decode(),
            "senderNick": nick,
            "isAdmin": False,
            "senderStaffId": staff_id,
            "sessionWebhookExpiredTime": expires,
            "createAt": opts.get("create_at") or _now_ms(),
            "senderCorpId": self.corp_id,
            "conversationType": conversation_type,
            "senderId": _encrypted_id(staff_id),
            "sessionWebhook": f"{self.oapi_base}{SESSION_WEBHOOK_PATH}?session={session}",
            "robotCode": self.robot_code,
            "senderPlatform": "Mac",
            "msgtype": msgtype,
        }
        if group:
            payload["conversationTitle"] = opts.get("conversation_title", "华东销售群")
            payload["isInAtList"] = True
            payload["atUsers"] = [{"dingtalkId": payload["chatbotUserId"]}]
        return payload

    # -- OpenAPI: recording and faults -------------------------------------------------------------

    @property
    def api_requests(self) -> list[ApiRequest]:
        """A snapshot of every HTTP request received (api and oapi), in arrival order."""
        with self._cond:
            return list(self._requests)

    def calls(self, path: str) -> list[ApiRequest]:
        return [r for r in self.api_requests if r.path == path]

    def wait_for_calls(self, path: str, count: int = 1, timeout: float = 5.0) -> list[ApiRequest]:
        """Blocks until `count` requests to `path` were answered, for code that calls from a background thread."""
        with self._cond:
            answered = lambda: [r for r in self._requests if r.path == path and r.status]  # noqa: E731
            if not self._cond.wait_for(lambda: len(answered()) >= count, timeout):
                raise AssertionError(
                    f"expected {count} calls to {path} within {timeout}s, got {len(answered())}"
                )
            return answered()

    def robot_messages(
        self, user_id: str | None = None, conversation_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Robot messages DingTalk accepted, one entry per recipient: `kind` ("oto"|"group"), `to`,
        `msgKey`, `msgParam` (parsed). Invalid user ids (not in the org) receive nothing."""
        with self._cond:
            return [
                m
                for m in self.robot_sent
                if (user_id is None or (m["kind"] == "oto" and m["to"] == user_id))
                and (conversation_id is None or (m["kind"] == "group" and m["to"] == conversation_id))
            ]

    def session_replies(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Bodies posted to valid session webhooks (`reply_text` and friends)."""
        with self._cond:
            return [body for cid, body in self._session_replies if conversation_id in (None, cid)]

    def fail_next(self, path: str, status: int = 403, *, times: int = 1, body: Any = None) -> None:
        """The next `times` calls to `path` answer `status` with `body`, by default the platform's:
        v1.0 403 = QPS limit (`Forbidden.AccessDenied.QpsLimitForAppkeyAndApi`), other = `systemError`;
        oapi 200 = errcode 90018 (throttled), other = errcode -1. Other menu items: `throttle_body(code)`,
        `quota_body(host)`, `{"errcode": 90002, …}` (oapi busy)."""
        with self._cond:
            self._faults.setdefault(path, []).append(_Fault(status, body, times))

    def hang_next(self, path: str, seconds: float, *, after_delivery: bool = False, times: int = 1) -> None:
        """The next `times` calls to `path` answer `seconds` late. `after_delivery`: acted on (a robot message
        is delivered) before the wait; otherwise nothing happens and the late answer is a 504."""
        with self._cond:
            self._hangs.setdefault(path, []).append(_Hang(seconds, after_delivery, times))

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()
            self._hangs.clear()

    def _take_hang(self, path: str) -> _Hang | None:
        with self._cond:
            queue = self._hangs.get(path)
            if not queue:
                return None
            hang = queue[0]
            hang.times -= 1
            if hang.times <= 0:
                queue.pop(0)
        return hang

    def expire_tokens(self) -> None:
        """Every issued access token is refused from now on (v1.0: 400 InvalidAuthentication; oapi: 88/40014)."""
        with self._cond:
            self._tokens.clear()

    def _take_fault(self, host: str, path: str) -> web.Response | None:
        with self._cond:
            queue = self._faults.get(path)
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
        body = fault.body if fault.body is not None else _default_fault_body(host, fault.status)
        return _json(body, fault.status)

    def _recorder(self, host: str) -> Callable[[web.Request, _Handler], Awaitable[web.StreamResponse]]:
        @web.middleware
        async def record(request: web.Request, handler: _Handler) -> web.StreamResponse:
            raw = await request.read()
            entry = ApiRequest(
                host,
                request.method,
                request.path,
                dict(request.query),
                {k.lower(): v for k, v in request.headers.items()},
                _parse_body(raw, request.content_type),
            )
            with self._cond:
                self._requests.append(entry)
            request[_ENTRY] = entry
            hang = self._take_hang(request.path)
            try:
                if hang is not None and not hang.after_delivery:
                    await asyncio.sleep(hang.seconds)
                    response = _json(_default_fault_body(host, 504), 504)
                else:
                    response = (
                        self._take_fault(host, request.path)
                        or self._auth_error(host, request)
                        or await handler(request)
                    )
                    if hang is not None:
                        await asyncio.sleep(hang.seconds)
            except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
                response = (
                    _api_error(
                        404,
                        "InvalidAction.NotFound",
                        "Specified api is not found, please check your url and method.",
                    )
                    if host == "api"
                    else _oapi_error(22, "Invalid method")
                )
            with self._cond:
                entry.status = response.status
                if (
                    isinstance(response, web.Response)
                    and response.content_type == "application/json"
                    and response.body
                ):
                    entry.response = json.loads(bytes(response.body))  # type: ignore[arg-type]
                self._cond.notify_all()
            return response

        return record

    def _auth_error(self, host: str, request: web.Request) -> web.Response | None:
        if (
            host == "api"
            and request.path.startswith("/v1.0/")
            and request.path not in (OPEN_CONNECTION_PATH, TOKEN_PATH)
        ):
            token = request.headers.get("x-acs-dingtalk-access-token")
            if not token:
                return _api_error(
                    400, "AuthenticationFailed.MissingParameter", "缺少参数：x-acs-dingtalk-access-token"
                )
            if token not in self._tokens:
                return _api_error(400, "InvalidAuthentication", "不合法的access_token")
        if host == "oapi" and request.path.startswith(("/topapi/", "/media/")):
            token = request.query.get("access_token")
            if not token:
                return _oapi_auth_error("40000", "access_token is blank")
            if token not in self._tokens:
                return _oapi_auth_error("40014", "不合法的access_token")
        return None

    def _issue_token(self) -> str:
        token = secrets.token_hex(16)
        with self._cond:
            self._tokens.add(token)
        return token

    @staticmethod
    def _body(request: web.Request) -> dict[str, Any]:
        body = request[_ENTRY].body
        return body if isinstance(body, dict) else {}

    # -- OpenAPI: api.dingtalk.com -----------------------------------------------------------------

    def _api_app(self) -> web.Application:
        app = web.Application(middlewares=[self._recorder("api")])
        app.router.add_post(OPEN_CONNECTION_PATH, self._open_connection)
        app.router.add_post(TOKEN_PATH, self._access_token)
        app.router.add_post("/v1.0/robot/oToMessages/batchSend", self._batch_send)
        app.router.add_post("/v1.0/robot/groupMessages/send", self._group_send)
        app.router.add_post("/v1.0/robot/messageFiles/download", self._file_download_url)
        app.router.add_post("/v1.0/card/instances/createAndDeliver", self._card_create_and_deliver)
        app.router.add_put("/v1.0/card/instances", self._card_update)
        app.router.add_get("/files/{code}", self._file_content)
        return app

    async def _open_connection(self, request: web.Request) -> web.Response:
        body = self._body(request)
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            return _api_error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        ticket = str(uuid.uuid4())
        with self._cond:
            self._tickets.add(ticket)
            self.subscriptions = list(body.get("subscriptions") or [])
        return _json({"endpoint": f"{self.gateway_url}/connect", "ticket": ticket})

    async def _access_token(self, request: web.Request) -> web.Response:
        body = self._body(request)
        if body.get("appKey") != self.client_id or body.get("appSecret") != self.client_secret:
            return _api_error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        return _json({"accessToken": self._issue_token(), "expireIn": self.token_ttl})

    def _robot_message_error(self, body: dict[str, Any], target: str) -> web.Response | None:
        for name in ("robotCode", target, "msgKey", "msgParam"):
            if not body.get(name):
                return _api_error(400, "MissingParameter", f"缺少参数：{name}")
        if body["robotCode"] != self.robot_code:
            return _api_error(400, "InvalidParameter", "robotCode不合法")
        if body["msgKey"] not in MSG_KEYS:
            return _api_error(400, "InvalidParameter", f"msgKey不合法：{body['msgKey']}")
        try:
            if not isinstance(json.loads(body["msgParam"]), dict):
                raise ValueError
        except (TypeError, ValueError):
            return _api_error(400, "InvalidParameter", "msgParam必须是JSON字符串")
        return None

    async def _batch_send(self, request: web.Request) -> web.Response:
        body = self._body(request)
        error = self._robot_message_error(body, "userIds")
        if error is not None:
            return error
        if len(body["userIds"]) > BATCH_SEND_MAX_USERS:
            return _api_error(400, "InvalidParameter", f"userIds最多{BATCH_SEND_MAX_USERS}个")
        key = secrets.token_urlsafe(24)
        with self._cond:
            invalid = [u for u in body["userIds"] if u not in self._users]
            for user in body["userIds"]:
                if user not in invalid:
                    self.robot_sent.append(self._robot_entry("oto", user, body, key))
        return _json({"processQueryKey": key, "invalidStaffIdList": invalid, "flowControlledStaffIdList": []})

    async def _group_send(self, request: web.Request) -> web.Response:
        body = self._body(request)
        error = self._robot_message_error(body, "openConversationId")
        if error is not None:
            return error
        key = secrets.token_urlsafe(24)
        with self._cond:
            self.robot_sent.append(self._robot_entry("group", body["openConversationId"], body, key))
        return _json({"processQueryKey": key})

    @staticmethod
    def _robot_entry(kind: str, to: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        return {
            "kind": kind,
            "to": to,
            "msgKey": body["msgKey"],
            "msgParam": json.loads(body["msgParam"]),
            "processQueryKey": key,
        }

    async def _file_download_url(self, request: web.Request) -> web.Response:
        code = self._body(request).get("downloadCode")
        if code not in self.files:
            return _api_error(400, "InvalidParameter", "downloadCode不合法或已过期")
        return _json({"downloadUrl": f"{self.api_base}/files/{code}"})

    async def _file_content(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["code"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[1], content_type="application/octet-stream")

    @staticmethod
    def _oversized(body: dict[str, Any]) -> web.Response | None:
        """Every cardParamMap value (public and private) is at most 1 KB."""
        maps = [(body.get("cardData") or {}).get("cardParamMap") or {}]
        maps += [(data or {}).get("cardParamMap") or {} for data in (body.get("privateData") or {}).values()]
        for params in maps:
            for key, value in params.items():
                if len(str(value).encode()) > CARD_PARAM_MAX_BYTES:
                    return _api_error(400, "InvalidParameter", f"cardParamMap 的值超过 1KB：{key}")
        return None

    async def _card_create_and_deliver(self, request: web.Request) -> web.Response:
        body = self._body(request)
        for name in ("cardTemplateId", "outTrackId", "openSpaceId"):
            if not body.get(name):
                return _api_error(400, "MissingParameter", f"缺少参数：{name}")
        if body["cardTemplateId"] not in self.card_templates:
            return _api_error(400, "InvalidParameter", "卡片模板不存在或未发布")
        oversized = self._oversized(body)
        if oversized is not None:
            return oversized
        if not body["openSpaceId"].startswith("dtv1.card//"):
            return _api_error(400, "InvalidParameter", "openSpaceId不合法")
        results = []
        for space in body["openSpaceId"].removeprefix("dtv1.card//").split(";"):
            space_type, _, space_id = space.partition(".")
            model = {"IM_ROBOT": "imRobotOpenDeliverModel", "IM_GROUP": "imGroupOpenDeliverModel"}.get(
                space_type
            )
            if model is None or not space_id:
                return _api_error(400, "InvalidParameter", f"openSpaceId不合法：{space}")
            if model not in body or (space_type == "IM_GROUP" and not body[model].get("robotCode")):
                return _api_error(400, "MissingParameter", f"缺少参数：{model}")
            results.append(
                {
                    "spaceType": space_type,
                    "spaceId": space_id,
                    "success": True,
                    "errorMsg": "",
                    "carrierId": secrets.token_hex(8),
                }
            )
        with self._cond:
            self.cards[body["outTrackId"]] = {
                "template_id": body["cardTemplateId"],
                "open_space_id": body["openSpaceId"],
                "callback_type": body.get("callbackType", "STREAM"),
                "card_data": dict((body.get("cardData") or {}).get("cardParamMap") or {}),
                "private_data": {},
                "updates": 0,
            }
        return _json(
            {"success": True, "result": {"outTrackId": body["outTrackId"], "deliverResults": results}}
        )

    async def _card_update(self, request: web.Request) -> web.Response:
        body = self._body(request)
        with self._cond:
            card = self.cards.get(body.get("outTrackId", ""))
            if card is None:
                return _api_error(400, "InvalidParameter", "卡片实例不存在")
            if body["outTrackId"] in self._clicks_pending.values():  # answer a click in its ACK, not by update
                self.card_updates_during_click.append(body["outTrackId"])
                return _api_error(400, "InvalidParameter", "卡片回调处理中，请在回调应答中返回更新")
            oversized = self._oversized(body)
            if oversized is not None:
                return oversized
            self._update_card(card, body.get("cardData"), body.get("cardUpdateOptions"))
            for user, data in (body.get("privateData") or {}).items():
                self._set_private(card, user, data.get("cardParamMap", {}), body.get("cardUpdateOptions"))
        return _json({"success": True, "result": True})

    @staticmethod
    def _update_card(card: dict[str, Any], card_data: Any, options: Any) -> None:
        if not isinstance(card_data, dict):
            return
        params = card_data.get("cardParamMap") or {}
        if isinstance(options, dict) and options.get("updateCardDataByKey"):
            card["card_data"].update(params)
        else:
            card["card_data"] = dict(params)
        card["updates"] += 1

    # -- OpenAPI: oapi.dingtalk.com ----------------------------------------------------------------

    def _oapi_app(self) -> web.Application:
        app = web.Application(middlewares=[self._recorder("oapi")])
        app.router.add_get("/gettoken", self._gettoken)
        app.router.add_post("/topapi/v2/department/listsub", self._department_listsub)
        app.router.add_post("/topapi/v2/department/get", self._department_get)
        app.router.add_post("/topapi/v2/user/list", self._user_list)
        app.router.add_post("/topapi/v2/user/get", self._user_get)
        app.router.add_post("/topapi/report/create", self._report_create)
        app.router.add_post("/topapi/report/template/getbyname", self._report_template)
        app.router.add_post(SESSION_WEBHOOK_PATH, self._session_webhook)
        app.router.add_post("/media/upload", self._media_upload)
        return app

    async def _media_upload(self, request: web.Request) -> web.Response:
        """multipart/form-data with `type` and the file in `media`; answers the media_id robot messages accept."""
        head = f"Content-Type: {request.headers.get('Content-Type', '')}\r\n\r\n".encode()
        form = email.parser.BytesParser(policy=email.policy.default).parsebytes(head + await request.read())
        parts = {p.get_param("name", header="content-disposition"): p for p in form.iter_parts()}
        if "media" not in parts or "type" not in parts:
            return _oapi_error(40035, "缺少参数 media 或 type")
        media_id = "@lADP" + secrets.token_urlsafe(12)
        with self._cond:
            self.media[media_id] = (parts["media"].get_filename() or "", parts["media"].get_payload(decode=True))
        media_type = parts["type"].get_content().strip()
        return _json({"errcode": 0, "errmsg": "ok", "type": media_type, "media_id": media_id, "created_at": _now_ms()})

    async def _gettoken(self, request: web.Request) -> web.Response:
        appkey, appsecret = request.query.get("appkey"), request.query.get("appsecret")
        if not appkey:
            return _oapi_error(40035, "缺少参数 corpid or appkey")
        if appkey != self.client_id or appsecret != self.client_secret:
            return _oapi_error(40096, "不合法的appKey或appSecret")
        return _json(
            {"errcode": 0, "access_token": self._issue_token(), "errmsg": "ok", "expires_in": self.token_ttl}
        )

    def _dept(self, request: web.Request) -> dict[str, Any] | None:
        try:
            return self._departments.get(int(self._body(request).get("dept_id", 1)))
        except (TypeError, ValueError):
            return None

    async def _department_listsub(self, request: web.Request) -> web.Response:
        with self._cond:
            dept = self._dept(request)
            if dept is None:
                return _oapi_error(60003, "部门不存在")
            subs = [
                {k: d[k] for k in ("dept_id", "name", "parent_id", "create_dept_group", "auto_add_user")}
                for d in self._departments.values()
                if d.get("parent_id") == dept["dept_id"]
            ]
        return _json({"errcode": 0, "errmsg": "ok", "result": subs, "request_id": _rid()})

    async def _department_get(self, request: web.Request) -> web.Response:
        with self._cond:
            dept = self._dept(request)
            if dept is None:
                return _oapi_error(60003, "部门不存在")
            result = dict(dept)
        return _json({"errcode": 0, "errmsg": "ok", "result": result, "request_id": _rid()})

    async def _user_list(self, request: web.Request) -> web.Response:
        body = self._body(request)
        with self._cond:
            dept = self._dept(request)
            if dept is None:
                return _oapi_error(60003, "部门不存在")
            members = sorted(
                (u for u in self._users.values() if dept["dept_id"] in u["dept_id_list"]),
                key=lambda u: u["userid"],
            )
            cursor, size = int(body.get("cursor", 0)), min(int(body.get("size", 100)), 100)
            page = [
                {**u, "leader": self._is_leader(u["userid"], dept["dept_id"])}
                for u in members[cursor : cursor + size]
            ]
        result: dict[str, Any] = {"has_more": cursor + size < len(members), "list": page}
        if result["has_more"]:
            result["next_cursor"] = cursor + size
        return _json({"errcode": 0, "errmsg": "ok", "result": result, "request_id": _rid()})

    async def _user_get(self, request: web.Request) -> web.Response:
        with self._cond:
            user = self._users.get(str(self._body(request).get("userid", "")))
            if user is None:
                return _oapi_error(60121, "找不到该用户")
            result = dict(user)
            result["leader_in_dept"] = [
                {"dept_id": d, "leader": self._is_leader(user["userid"], d)} for d in user["dept_id_list"]
            ]
            managers = [
                m
                for d in user["dept_id_list"]
                for m in self._departments.get(d, {}).get("dept_manager_userid_list", [])
            ]
            manager = next((m for m in managers if m != user["userid"]), None)
            if manager is not None:
                result["manager_userid"] = manager
        return _json({"errcode": 0, "errmsg": "ok", "result": result, "request_id": _rid()})

    async def _report_create(self, request: web.Request) -> web.Response:
        param = self._body(request).get("create_report_param")
        if isinstance(param, str):
            param = json.loads(param)
        if not isinstance(param, dict) or not param.get("template_id") or not param.get("contents"):
            return _oapi_error(40035, "缺少参数 create_report_param")
        with self._cond:
            if param.get("userid") not in self._users:
                return _oapi_error(60121, "找不到该用户")
            template = next((t for t in self.report_templates.values() if t["id"] == param["template_id"]), None)
            if template is not None and not self._fits(template, param["contents"]):
                return _oapi_error(40035, "contents 与模板字段不符")
            self.reports.append(param)
        return _json({"errcode": 0, "errmsg": "ok", "result": secrets.token_hex(16), "request_id": _rid()})

    @staticmethod
    def _fits(template: Mapping[str, Any], contents: Any) -> bool:
        """Each content names a field of the template by its key and sort."""
        fields = {(f["field_name"], str(f["sort"])) for f in template["fields"]}
        return isinstance(contents, list) and all(
            isinstance(c, dict) and (c.get("key"), str(c.get("sort"))) in fields for c in contents
        )

    async def _report_template(self, request: web.Request) -> web.Response:
        """`report/template/getbyname`: the template the member sees by that name, with its fields."""
        body = self._body(request)
        with self._cond:
            user = self._users.get(str(body.get("userid", "")))
            if user is None:
                return _oapi_error(60121, "找不到该用户")
            template = self.report_templates.get(str(body.get("template_name", "")))
            if template is None:
                return _oapi_error(400002, "模板不存在")
            result = {"default_receivers": [], "default_received_convs": [], **template,
                      "userid": user["userid"], "user_name": user["name"]}
        return _json({"errcode": 0, "errmsg": "ok", "result": result, "request_id": _rid()})

    async def _session_webhook(self, request: web.Request) -> web.Response:
        body = self._body(request)
        with self._cond:
            found = self._sessions.get(request.query.get("session", ""))
            if found is None or found[1] < _now_ms():
                return _json({"errcode": 300005, "errmsg": "token is not exist"})
            if body.get("msgtype") not in ("text", "markdown", "actionCard", "link", "feedCard"):
                return _json({"errcode": 40035, "errmsg": "缺少参数 msgtype"})
            self._session_replies.append((found[0], body))
        return _json({"errcode": 0, "errmsg": "ok"})
