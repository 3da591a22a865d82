"""A seeded demo served by real uvicorn on 127.0.0.1 (in a thread), and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import uvicorn

from bot.app import create_app
from bot.clock import Clock
from bot.config import load_settings
from bot.demo import populate
from bot.runtime import Runtime

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = os.environ.get("LIUHEN_SCREENSHOTS")  # `make screenshots` sets it to docs/img
DEMO_NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium for the browser tests")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium); browser tests skipped locally")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Runtime]]:
    """The demo company on its own SQLite file; the clock runs from a Tuesday 10:00 so pushes are never held."""
    _need_chromium()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # bound before the thread starts: requests queue until uvicorn accepts them
    port = sock.getsockname()[1]
    db = tmp_path_factory.mktemp("browser") / "demo.db"
    settings = load_settings(environ={}, overrides={
        "database": {"url": f"sqlite:///{db}"}, "local": {"enabled": True},
        "server": {"port": port, "public_url": f"http://127.0.0.1:{port}"}})
    clock = Clock(settings.tz)
    clock.advance(DEMO_NOW - clock.now())
    runtime = Runtime(settings, clock=clock)
    runtime.migrate()
    populate(runtime.engine, runtime.rules, at=clock.now(), tz=clock.tz)
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", runtime
    server.should_exit = True
    thread.join(timeout=20)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    _need_chromium()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def shot(page: object, name: str) -> None:
    """Saves a screenshot for the README when `make screenshots` asks for them."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=False)  # type: ignore[attr-defined]
