"""Bench: encrypted WeCom callbacks/s and latency through our whole ack path vs a bare verify+decrypt+parse endpoint.

    .venv/bin/python bench/inbound_wecom.py [--seconds 8] [--concurrency 50] [--rate 100] [--repeats 3]

Each phase gets fresh server processes (uvicorn, access log off, a pre-bound loopback socket) and a fresh
database, so one phase's backlog never burdens the next: "whole" is `create_app(Runtime(settings))` with its
worker thread processing and sending (to a fake WeCom in another process), "ack-only" the same app without
the worker (the acknowledge path alone), "bare" answers `success` after the same read + verify + decrypt + parse. The load generator (this process) sends pre-encrypted callbacks over raw
keep-alive asyncio connections: (a) closed loop at maximum throughput, (b) open loop at a fixed offered rate,
latency counted from each request's scheduled time. SQLite always; PostgreSQL too when
LIUHEN_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REPS = 50
START_TIMEOUT = 120.0
MAX_EXPECTED_RATE = 6000  # callbacks/s: how many to encrypt in advance for a maximum-throughput phase
TOKEN = "benchToken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TEXTS = ["今天拜访了华东医疗，客户对方案演示很满意", "帮助", "明天和王总约了技术交流", "客户说价格有点高"]
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


# -- servers (child processes) -----------------------------------------------------------------------


def serve(kind: str, fd: int, config: str) -> None:
    import uvicorn

    from bot.config import load_settings

    settings = load_settings(config, environ={})
    if kind == "bare":
        app = bare_app(settings)
    else:
        from bot.app import create_app
        from bot.runtime import Runtime

        app = create_app(Runtime(settings), start_workers=kind == "whole")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[socket.socket(fileno=fd)])


def bare_app(settings):  # type: ignore[no-untyped-def]
    """Only what the protocol needs: read (size-limited), verify, decrypt, parse, answer."""
    from bot.channels.wecom_crypto import CallbackCrypto, Rejected
    from bot.clock import Clock
    from bot.web.wecom import ACK, read_body

    config = settings.wecom
    crypto = CallbackCrypto(token=config.token, encoding_aes_key=config.encoding_aes_key, corp_id=config.corp_id,
                            clock=Clock(settings.tz), window_seconds=config.replay_window_seconds)
    app = FastAPI()

    @app.post("/wecom/callback")
    async def callback(request: Request) -> PlainTextResponse:
        try:
            crypto.open(request.query_params, await read_body(request))
        except Rejected as exc:
            return PlainTextResponse(exc.reason, status_code=exc.status)
        return PlainTextResponse(ACK)

    return app


def serve_fake(corp_id: str) -> None:
    """The WeCom API the whole app's worker sends replies to; runs until stdin closes."""
    from tests.fakes.wecom_server import DEFAULT_DEPARTMENTS, FakeWeCom

    users = [{"userid": f"rep{n:03d}", "name": f"销售{n}", "department": [2]} for n in range(REPS)]
    with FakeWeCom(corp_id=corp_id, departments=DEFAULT_DEPARTMENTS, users=users) as fake:
        print(fake.base_url, flush=True)
        sys.stdin.read()


# -- data --------------------------------------------------------------------------------------------


def prepare_database(url: str) -> None:
    from sqlmodel import Session

    from store import migrate
    from store.db import make_engine
    from store.models import User

    engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        for n in range(REPS):
            session.add(User(id=f"rep{n:03d}", name=f"销售{n}", role="rep", wecom_userid=f"rep{n:03d}"))
        session.commit()
    engine.dispose()


def write_config(path: Path, db_url: str, api_base: str, corp_id: str) -> str:
    import yaml

    data = {"database": {"url": db_url}, "rules_dir": str(ROOT / "rules"),
            "wecom": {"enabled": True, "corp_id": corp_id, "agent_id": 1000002, "secret": "fake-app-secret",
                      "token": TOKEN, "encoding_aes_key": AES_KEY, "api_base": api_base}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def callbacks(count: int, corp_id: str) -> list[bytes]:
    """Raw HTTP requests, encrypted now (outside the measurement), each with its own MsgId."""
    from tests.fakes.wecom_server import WeComCallbackSender

    sender = WeComCallbackSender(TOKEN, AES_KEY, corp_id)
    requests = []
    for n in range(count):
        params, body = sender.encrypt_callback(sender.text_xml(f"rep{n % REPS:03d}", TEXTS[n % len(TEXTS)]))
        requests.append(
            f"POST /wecom/callback?{urlencode(params)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
    return requests


# -- load --------------------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    sent: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.sent / self.seconds

    def quantile(self, q: int) -> float:
        return statistics.quantiles(self.latencies, n=100)[q - 1] * 1000

    def line(self) -> str:
        return (f"{self.label:<34} {self.rate:8.0f}/s   p50 {self.quantile(50):7.2f} ms   "
                f"p99 {self.quantile(99):7.2f} ms   errors {self.errors}")


async def _exchange(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes) -> bool:
    reader, writer = conn
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    match = _LENGTH.search(head)
    await reader.readexactly(int(match.group(1)) if match else 0)
    return head.startswith(b"HTTP/1.1 200")


async def _connect(port: int, count: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    return [await asyncio.open_connection("127.0.0.1", port) for _ in range(count)]


async def closed_loop(port: int, requests: list[bytes], concurrency: int, label: str,
                      seconds: float = float("inf")) -> Result:
    """Each connection sends its next request as soon as the last is answered, until `seconds` or no requests."""
    conns = await _connect(port, concurrency)
    todo, latencies, errors = iter(requests), [], 0
    deadline = time.perf_counter() + seconds

    async def client(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        nonlocal errors
        for request in todo:
            started = time.perf_counter()
            if started > deadline:
                return
            errors += not await _exchange(conn, request)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client(conn) for conn in conns))
    elapsed = time.perf_counter() - started
    for _, writer in conns:
        writer.close()
    return Result(label, len(latencies), elapsed, latencies, errors)


async def open_loop(port: int, requests: list[bytes], rate: float, label: str, pool: int = 32) -> Result:
    idle: asyncio.Queue = asyncio.Queue()
    for conn in await _connect(port, pool):
        idle.put_nowait(conn)
    latencies, errors = [], 0

    async def one(request: bytes, due: float) -> None:
        nonlocal errors
        conn = await idle.get()
        errors += not await _exchange(conn, request)
        latencies.append(time.perf_counter() - due)  # from the scheduled time: no coordinated omission
        idle.put_nowait(conn)

    start = time.perf_counter() + 0.05
    tasks = []
    for n, request in enumerate(requests):
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(request, due)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait()[1].close()
    return Result(label, len(latencies), time.perf_counter() - start, latencies, errors)


# -- orchestration -----------------------------------------------------------------------------------


class Phase:
    """One server process on a fresh database and a socket this process bound (no start-up race)."""

    def __init__(self, kind: str, db_url: str, workdir: Path, api_base: str, corp_id: str) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        if kind != "bare":
            prepare_database(db_url)
        config = write_config(workdir / f"{uuid.uuid4().hex}.yaml", db_url, api_base, corp_id)
        fd = self.sock.fileno()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, "--fd", str(fd), "--config", config],
            pass_fds=[fd], cwd=ROOT,
        )

    def warm_up(self, requests: list[bytes]) -> None:
        """Waits out the server's start-up (imports, migrations) and warms its caches; a dead server ends the run."""
        try:
            result = asyncio.run(asyncio.wait_for(closed_loop(self.port, requests, 10, "warm-up"), START_TIMEOUT))
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            result = None
        if result is None or result.errors:
            self.stop()
            raise SystemExit(f"server did not start or answer (exit code {self.process.poll()})")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.sock.close()


class Databases:
    """A fresh database per phase: a SQLite file, or a PostgreSQL schema dropped at the end."""

    def __init__(self, workdir: Path, pg_url: str | None) -> None:
        self.workdir = workdir
        self.pg_url = pg_url
        self.backends = ["sqlite"] + (["postgresql"] if pg_url else [])
        self._schemas: list[str] = []

    def fresh(self, backend: str) -> str:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        if backend == "sqlite":
            return f"sqlite:///{self.workdir}/{name}.db"
        assert self.pg_url
        self._admin(f"CREATE SCHEMA {name}")
        self._schemas.append(name)
        return f"{self.pg_url}{'&' if '?' in self.pg_url else '?'}options={quote(f'-csearch_path={name}')}"

    def close(self) -> None:
        for name in self._schemas:
            self._admin(f"DROP SCHEMA {name} CASCADE")

    def _admin(self, sql: str) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.pg_url, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()


def measure(kind: str, mode: str, label: str, db_url: str, workdir: Path, api_base: str, corp_id: str,
            args: argparse.Namespace) -> Result:
    phase = Phase(kind, db_url, workdir, api_base, corp_id)
    try:
        phase.warm_up(callbacks(300, corp_id))
        if mode == "max":
            requests = callbacks(int(args.seconds * MAX_EXPECTED_RATE), corp_id)
            return asyncio.run(closed_loop(phase.port, requests, args.concurrency,
                                           f"{label}, {args.concurrency} conns", args.seconds))
        requests = callbacks(int(args.seconds * args.rate), corp_id)
        return asyncio.run(open_loop(phase.port, requests, args.rate, f"{label}, {args.rate:.0f}/s offered"))
    finally:
        phase.stop()


def run(args: argparse.Namespace) -> None:
    """Phases interleaved and repeated, medians reported: other load on the machine hits every variant alike."""
    load_before = _load()
    corp_id = "wwbenchcorp000001"
    fake = subprocess.Popen([sys.executable, __file__, "--serve", "fake", "--corp-id", corp_id],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    api_base = fake.stdout.readline().strip()  # type: ignore[union-attr]
    runs: dict[str, list[Result]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        databases = Databases(workdir, os.environ.get("LIUHEN_TEST_DATABASE_URL"))
        variants = [("bare", "bare", "sqlite")] + [
            (kind, f"{kind} ({name})", name) for name in databases.backends for kind in ("ack-only", "whole")
        ]
        try:
            for _ in range(args.repeats):
                for mode in ("max", "rate"):
                    for kind, label, backend in variants:
                        db_url = databases.fresh(backend)
                        result = measure(kind, mode, label, db_url, workdir, api_base, corp_id, args)
                        print("  " + result.line(), flush=True)
                        runs.setdefault(result.label, []).append(result)
        finally:
            databases.close()
    fake.stdin.close()  # type: ignore[union-attr]
    fake.wait(10)
    print(f"median of {args.repeats} runs each (throughput at max load, p99 at the offered rate); "
          f"load average before / after: {load_before} / {_load()}")
    def middle(results: list[Result]) -> Result:  # by throughput at max load, by p99 at the offered rate
        return sorted(results, key=lambda r: r.rate if r.label.endswith("conns") else r.quantile(99))[len(results) // 2]

    medians = {label: middle(results) for label, results in runs.items()}
    for result in medians.values():
        print(result.line())
    bare = medians[f"bare, {args.concurrency} conns"]
    for label, result in medians.items():
        if label.endswith("conns") and result is not bare:
            print(f"ratio {label.split(',')[0]} / bare at max throughput: {result.rate / bare.rate:.2f}")


def _load() -> str:
    """The machine's 1-minute load average: other work on the box moves every figure."""
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="rough length of each measured phase")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per variant (median reported)")
    parser.add_argument("--serve", choices=["bare", "whole", "ack-only", "fake"], help=argparse.SUPPRESS)
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--corp-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "fake":
        serve_fake(args.corp_id)
    elif args.serve:
        serve(args.serve, args.fd, args.config)
    else:
        run(args)


if __name__ == "__main__":
    main()
