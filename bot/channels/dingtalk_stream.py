"""The DingTalk Stream connection: the real SDK on its own thread and event loop, ACKing only stored events."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, Literal

import httpx
from dingtalk_stream import AckMessage, CallbackHandler, Credential, DingTalkStreamClient, EventHandler
from dingtalk_stream.frames import CallbackMessage, EventMessage
from dingtalk_stream.version import VERSION_STRING
from websockets.protocol import State

from bot.channels.dingtalk_events import CLICK_ANSWER, from_card_callback, from_chatbot, from_event
from bot.clock import Clock
from bot.config import DingTalkConfig
from bot.events import Event
from bot.group_commit import AcksFirst, GroupCommit

log = logging.getLogger(__name__)

TOPIC_CHATBOT = "/v1.0/im/bot/messages/get"
TOPIC_CARD_CALLBACK = "/v1.0/card/instances/callback"
OPEN_CONNECTION_PATH = "/v1.0/gateway/connections/open"
RESTART_SECONDS = 5.0  # pause before running the SDK's loop again if it ever ends
OPEN_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
StreamState = Literal["connecting", "connected", "disconnected"]
# Stores events durably in one transaction, True where new (raises if it cannot: the SDK then sends no ACK).
Sink = Callable[[list[Event]], list[bool]]
# What follows a commit (card bookkeeping, waking the worker); runs off the stream's loop, may fail.
AfterCommit = Callable[[list[Event], list[bool]], None]


class StreamClient(DingTalkStreamClient):
    """The SDK keeps no connection state; these two hooks are where it opens and gets a socket. The open call
    goes to `api_base` (a private deployment or proxy): the SDK's own URL is fixed when it is imported."""

    phase: StreamState = "connecting"
    _socket: Any = None

    def __init__(self, credential: Credential, *, api_base: str) -> None:
        super().__init__(credential, logger=log)
        self.open_url = api_base.rstrip("/") + OPEN_CONNECTION_PATH

    def open_connection(self) -> dict[str, Any] | None:
        """The SDK's request with a timeout: its own `requests.post` has none, so a gateway that never answers
        would stall the stream for good. None makes the SDK wait 10 s and try again."""
        self.phase = "connecting"
        topics = [{"type": "EVENT", "topic": "*"}] if self._is_event_required else []
        topics += [{"type": "CALLBACK", "topic": topic} for topic in self.callback_handler_map]
        body = {"clientId": self.credential.client_id, "clientSecret": self.credential.client_secret,
                "subscriptions": topics, "ua": f"dingtalk-sdk-python/v{VERSION_STRING}-union", "localIp": ""}
        try:
            answer = httpx.post(self.open_url, json=body, timeout=OPEN_TIMEOUT,
                                headers={"User-Agent": f"DingTalkStream/1.0 SDK/{VERSION_STRING} liuhen"})
            answer.raise_for_status()
            return dict(answer.json())
        except (httpx.HTTPError, ValueError) as exc:  # never log the body: it holds the secret
            log.error("dingtalk stream: opening a connection failed (%s)", type(exc).__name__)
            return None

    @property  # type: ignore[override]
    def websocket(self) -> Any:
        return self._socket

    @websocket.setter
    def websocket(self, socket: Any) -> None:
        self._socket = socket
        if socket is not None:
            self.phase = "connected"


class _Writer:
    """Grouped commits (events arriving while a batch is written share the next transaction), then the ACK.

    DingTalk never pushes a robot message again, and the SDK sends no ACK when a handler raises: once the
    events are stored, nothing of ours may keep the ACK back — a failure after the commit is logged instead.
    """

    def __init__(self, sink: Sink, clock: Clock, after: AfterCommit | None = None,
                 gate: AcksFirst | None = None) -> None:
        self.clock = clock
        self.commits = GroupCommit(sink, gate=gate)
        self.after = after

    async def store(self, events: list[Event]) -> tuple[int, Any]:
        stored = await asyncio.gather(*(self.commits.store(event) for event in events))  # raises: no ACK
        if self.after:
            try:
                await asyncio.to_thread(self.after, events, list(stored))
            except Exception:
                log.exception("dingtalk stream: a step after the commit failed; ACKing the stored events anyway")
        return AckMessage.STATUS_OK, "OK"


class _Chatbot(CallbackHandler):
    def __init__(self, writer: _Writer) -> None:
        super().__init__()
        self.writer = writer

    async def process(self, message: CallbackMessage) -> tuple[int, str]:
        now = self.writer.clock.now()
        return await self.writer.store([from_chatbot(message.data, str(message.headers.message_id or ""),
                                                     received_at=now)])


class _CardClicks(_Chatbot):
    """The ACK of a stored click carries the clicker's view of the card (buttons gone, 已处理): DingTalk applies
    it at once, and no update call may race the callback. A handler's new card follows later, by the outbox."""

    async def process(self, message: CallbackMessage) -> tuple[int, Any]:
        now = self.writer.clock.now()
        status, _ = await self.writer.store([from_card_callback(message.data, message.headers.message_id,
                                                                received_at=now)])
        return status, CLICK_ANSWER


class _Events(EventHandler):
    def __init__(self, writer: _Writer) -> None:
        super().__init__()
        self.writer = writer

    async def process(self, message: EventMessage) -> tuple[int, str]:
        headers = message.headers
        return await self.writer.store(from_event(
            str(headers.event_type or ""), str(headers.event_id or headers.message_id), str(headers.event_corp_id or ""),
            message.data if isinstance(message.data, dict) else {}, received_at=self.writer.clock.now(),
        ))


class StreamListener:
    """Runs `DingTalkStreamClient.start()` (which reconnects by itself) and starts it again if it ever ends."""

    def __init__(self, config: DingTalkConfig, sink: Sink, clock: Clock, *, after: AfterCommit | None = None,
                 gate: AcksFirst | None = None, restart_seconds: float = RESTART_SECONDS) -> None:
        self.restart_seconds = restart_seconds
        self.writer = _Writer(sink, clock, after, gate)
        self.client = StreamClient(Credential(config.client_id, config.client_secret), api_base=config.api_base)
        self.client.register_callback_handler(TOPIC_CHATBOT, _Chatbot(self.writer))
        self.client.register_callback_handler(TOPIC_CARD_CALLBACK, _CardClicks(self.writer))
        self.client.register_all_event_handler(_Events(self.writer))
        self.restarts = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()

    @property
    def state(self) -> StreamState:
        if self._thread is None or not self._thread.is_alive():
            return "disconnected"
        socket = self.client.websocket
        if self.client.phase == "connected" and (socket is None or socket.state is not State.OPEN):
            return "disconnected"  # dropped; the SDK waits before it opens a new connection
        return self.client.phase

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="liuhen-dingtalk",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None or self._loop is None or self._stopping is None:
            return
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)
        self._thread = None

    async def _main(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        while not self._stopping.is_set():
            task = asyncio.create_task(self.client.start())
            stop = asyncio.create_task(self._stopping.wait())
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                await _cancel(task)
                return
            stop.cancel()
            self.restarts += 1
            log.error("dingtalk stream loop ended (%r); starting it again", task.exception())
            try:
                await asyncio.wait_for(self._stopping.wait(), self.restart_seconds)
            except TimeoutError:
                pass


async def _cancel(task: asyncio.Task[Any]) -> None:
    """`start()` swallows the first cancel (it sleeps 10 s and reconnects): cancel until it is done."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.05)
