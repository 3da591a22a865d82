"""Loopback harness: the real `liuhen serve` in a child process, fake WeCom and DingTalk in this one.

`Server` starts `python -m bot serve --config …` (or the same under `tests.reliability.killpoint`, which
SIGKILLs it at a named point) on a fixed loopback port, so a restart answers at the same address.
`CallbackSender` delivers pre-encrypted WeCom callbacks over raw keep-alive connections the way WeCom does
(at most 3 deliveries, a 5 s deadline each, a new delivery after a timeout, a transport error or a non-200),
and records every attempt's outcome and latency. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import yaml
from sqlmodel import Session, select

from bot import orgfile
from store.db import make_engine
from store.models import Message, Outbox
from tests.conftest import daytime_zone
from tests.fakes.dingtalk_gateway import DEFAULT_DEPARTMENTS as DINGTALK_DEPARTMENTS
from tests.fakes.dingtalk_gateway import FakeDingTalk
from tests.fakes.wecom_server import DEFAULT_DEPARTMENTS as WECOM_DEPARTMENTS
from tests.fakes.wecom_server import FakeWeCom, WeComCallbackSender
from tests.waiting import wait_until
from tests.wecom_helpers import AES_KEY, TOKEN, URL

ROOT = Path(__file__).resolve().parents[2]
REPS = 50  # WeCom drops more than ~30 messages a minute to one member: spread the load over many senders
READY_TIMEOUT = 120.0  # a loaded 2-core machine can take half a minute to import and warm up
LINK_SECRET = "reliability-link-secret-0123456789"


def rep(n: int) -> str:
    return f"rep{n:02d}"


def dingtalk_id(n: int) -> str:
    return f"9{n:03d}"


def org() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A manager and REPS reps, each on both platforms (the org-file shape `liuhen org import` takes)."""
    teams = [{"name": "华东一组", "manager": "zhangwei"}]
    users = [{"id": "zhangwei", "name": "张伟", "role": "manager", "team": "华东一组", "wecom_userid": "zhangwei"}]
    users += [{"id": rep(n), "name": f"销售{n:02d}", "role": "rep", "team": "华东一组", "wecom_userid": rep(n),
               "dingtalk_userid": dingtalk_id(n)} for n in range(REPS)]
    return teams, users


def seed_org(db_url: str) -> None:
    engine = make_engine(db_url)
    teams, users = org()
    with Session(engine) as session:
        orgfile.apply(session, teams, users)
        session.commit()
    engine.dispose()


def fake_wecom() -> FakeWeCom:
    users = [{"userid": u["wecom_userid"], "name": u["name"], "department": [2]} for u in org()[1]]
    return FakeWeCom(departments=WECOM_DEPARTMENTS, users=users)


def fake_dingtalk() -> FakeDingTalk:
    users = [{"userid": u["dingtalk_userid"], "name": u["name"], "dept_id_list": [2]}
             for u in org()[1] if u.get("dingtalk_userid")]
    return FakeDingTalk(departments=DINGTALK_DEPARTMENTS, users=users)


def write_config(path: Path, db_url: str, *, wecom: FakeWeCom | None = None,
                 dingtalk: FakeDingTalk | None = None, dingtalk_cards: bool = False) -> Path:
    """A production-shaped config.yaml: the platforms' bases point at the fakes, the simulator stays off. The time
    zone is one where it is early afternoon now: pushes are judged against quiet hours at the real time."""
    data: dict[str, Any] = {"timezone": daytime_zone(), "database": {"url": db_url},
                            "server": {"link_secret": LINK_SECRET}}
    if wecom:
        data["wecom"] = {"enabled": True, "corp_id": wecom.corp_id, "agent_id": wecom.agent_id,
                         "secret": wecom.secret, "token": TOKEN, "encoding_aes_key": AES_KEY,
                         "api_base": wecom.base_url}
    if dingtalk:
        data["dingtalk"] = dingtalk.liuhen_config() if dingtalk_cards else dingtalk.liuhen_config(card_template_id="")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIUHEN")}
    return {**env, "PYTHONUNBUFFERED": "1", **(extra or {})}


def liuhen(*args: str, config: Path, env: dict[str, str] | None = None) -> str:
    """Runs one `liuhen` command (e.g. `jobs run`) to completion; its stdout, or an AssertionError with stderr."""
    done = subprocess.run([sys.executable, "-m", "bot", *args, "--config", str(config)], cwd=ROOT,
                          env=child_env(env), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"liuhen {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return done.stdout


class Server:
    """`liuhen serve` in a child process on one loopback port, startable again after a kill."""

    def __init__(self, config: Path, logs: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.logs = logs
        self.env = child_env(env)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.logs / f"serve-{self.port}-{self.starts}.log"

    def start(self, killpoint: str | None = None, after: int = 1) -> Server:
        """Starts it (armed to SIGKILL itself at `killpoint`); returns once /healthz answers."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        serve = ["serve", "--config", str(self.config), "--port", str(self.port)]
        launcher = ["-m", "bot"] if killpoint is None else [
            "-m", "tests.reliability.killpoint", "--after", str(after), killpoint]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen([sys.executable, *launcher, *serve], cwd=ROOT, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        def healthy() -> bool:
            if self.process is None or self.process.poll() is not None:
                raise AssertionError(f"liuhen serve exited with {self.returncode} before it was ready:\n{self.tail()}")
            try:
                return httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout, f"liuhen serve on port {self.port}", interval=0.05)

    def health(self) -> dict[str, Any]:
        return httpx.get(self.base_url + "/healthz", timeout=5).json()

    def wait_warm(self, timeout: float = READY_TIMEOUT) -> Server:
        """Until the worker has loaded jieba, whose load holds the GIL: latency is measured after it."""
        wait_until(lambda: self.health()["worker"] == "running", timeout, "the worker to load jieba")
        return self

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def wait_killed(self, timeout: float = 60) -> None:
        """Blocks until the armed kill point fired (the process died of SIGKILL)."""
        assert self.process is not None
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the kill point did not fire within {timeout}s:\n{self.tail()}") from None
        assert code == -signal.SIGKILL, f"liuhen serve exited with {code}, not by SIGKILL:\n{self.tail()}"
        assert b"killpoint" in self.log_path.read_bytes(), f"died of SIGKILL, not at the kill point:\n{self.tail()}"

    def kill(self) -> None:
        """kill -9, as a power cut or the OOM killer would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


# -- WeCom callbacks ----------------------------------------------------------------------------------


@dataclass
class Callback:
    """One WeCom callback as WeCom would (re)send it: the same bytes on every delivery."""

    msg_id: str
    sender: str
    text: str
    request: bytes


def callbacks(sender: WeComCallbackSender, messages: Iterable[tuple[str, str]], first_id: int = 1) -> list[Callback]:
    """Encrypted and signed now (outside any measurement); `messages` are (WeCom userid, text)."""
    built = []
    for n, (user, text) in enumerate(messages, start=first_id):
        msg_id = 7_300_000_000_000_000_000 + n
        params, body = sender.encrypt_callback(sender.text_xml(user, text, msg_id=msg_id))
        head = (f"POST {URL}?{urlencode(params)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        built.append(Callback(str(msg_id), user, text, head.encode() + body))
    return built


@dataclass
class Delivery:
    """What the platform saw for one callback: each attempt's outcome (HTTP status or error) and latency."""

    callback: Callback
    outcomes: list[int | str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return bool(self.outcomes) and self.outcomes[-1] == 200


class CallbackSender:
    """Delivers callbacks like WeCom: at most `deliveries` tries, `deadline` s each, over keep-alive sockets.

    Non-200 answers are retried too. `pause` waits between tries after a failure, and a retry also waits
    while `up` is clear: WeCom's retries span seconds, a restart here may take longer on a loaded machine,
    and what is under test is the server's bookkeeping, not the race between the two.
    """

    def __init__(self, port: int, *, deliveries: int = 3, deadline: float = 5.0, pause: float = 0.0,
                 concurrency: int = 50, up: threading.Event | None = None) -> None:
        self.port = port
        self.deliveries = deliveries
        self.deadline = deadline
        self.pause = pause
        self.concurrency = concurrency
        self.up = up

    def run(self, items: list[Callback]) -> list[Delivery]:
        """Sends every callback once (with retries), `concurrency` at a time; blocks until all are done."""
        return asyncio.run(self._run(items))

    def start(self, items: list[Callback]) -> Callable[[], list[Delivery]]:
        """`run` on a background thread; returns a function that joins it and gives the deliveries."""
        result: list[list[Delivery]] = []
        thread = threading.Thread(target=lambda: result.append(self.run(items)), daemon=True)
        thread.start()

        def join() -> list[Delivery]:
            thread.join(timeout=300)
            assert result, "the callback sender did not finish"
            return result[0]

        return join

    async def _run(self, items: list[Callback]) -> list[Delivery]:
        todo = iter([Delivery(item) for item in items])
        done: list[Delivery] = []

        async def worker() -> None:
            conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
            for delivery in todo:
                for attempt in range(self.deliveries):
                    if attempt:
                        await asyncio.sleep(self.pause)
                        while self.up is not None and not self.up.is_set():
                            await asyncio.sleep(0.05)
                    started = time.perf_counter()
                    try:
                        if conn is None:
                            conn = await asyncio.wait_for(
                                asyncio.open_connection("127.0.0.1", self.port), self.deadline)
                        status = await asyncio.wait_for(_exchange(conn, delivery.callback.request), self.deadline)
                    except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                        status = type(exc).__name__
                        if conn is not None:
                            conn[1].close()
                        conn = None
                    delivery.outcomes.append(status)
                    delivery.latencies.append(time.perf_counter() - started)
                    if status == 200:
                        break
                done.append(delivery)
            if conn is not None:
                conn[1].close()

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        return done


async def _exchange(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes) -> int:
    """One request/response on a keep-alive connection: the status, 200 only for WeCom's empty ack body."""
    reader, writer = conn
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length)
    status = int(head.split(b" ", 2)[1])
    return status if status != 200 or body == b"" else 299  # 299: a 200 that is not WeCom's (empty) ack


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


# -- what the database holds --------------------------------------------------------------------------


def inbox_rows(db_url: str, channel: str) -> list[Message]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(Message).where(Message.channel == channel).order_by(Message.id)))
    finally:
        engine.dispose()


def outbox_rows(db_url: str) -> list[Outbox]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(Outbox).order_by(Outbox.id)))
    finally:
        engine.dispose()


def settled(db_url: str, channel: str, expected_inbox: int | None = None) -> bool:
    """Every inbox row processed and no outbox row still waiting to be sent."""
    rows = inbox_rows(db_url, channel)
    if expected_inbox is not None and len(rows) < expected_inbox:
        return False
    if any(row.processed_at is None for row in rows):
        return False
    return not any(row.status == "pending" for row in outbox_rows(db_url))
