"""Bench: DingTalk Stream robot messages/s and ACK latency, our handler (inbox insert) vs an ACK-only SDK handler.

    .venv/bin/python bench/inbound_dingtalk.py [--messages 3000] [--rate 300] [--db-url URL]

Both run the real dingtalk-stream SDK against the fake gateway (tests/fakes/dingtalk_gateway.py) in this
process; the fake timestamps each frame's write and its ACK, so the load generator does not time itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dingtalk_stream import AckMessage, CallbackHandler, Credential  # noqa: E402

from bot.channels.dingtalk_stream import StreamClient  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from tests.fakes.dingtalk_gateway import TOPIC_CHATBOT, FakeDingTalk  # noqa: E402

STAFF = "0123"


class AckOnly(CallbackHandler):
    async def process(self, message: Any) -> tuple[int, str]:
        return AckMessage.STATUS_OK, "OK"


class BareClient:
    """The SDK (liuhen's subclass, for the open call at `api_base`) with one ACK-only handler, on its own thread
    and loop (the baseline)."""

    def __init__(self, fake: FakeDingTalk) -> None:
        self.client = StreamClient(Credential(fake.client_id, fake.client_secret), api_base=fake.api_base)
        self.client.register_callback_handler(TOPIC_CHATBOT, AckOnly())
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        task = asyncio.create_task(self.client.start())
        while not self.stop_event.is_set():
            await asyncio.sleep(0.05)
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.05)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def measure(fake: FakeDingTalk, messages: int, rate: float) -> dict[str, float]:
    """A burst of `messages` back to back (throughput), then as many paced at `rate`/s (ACK latency)."""
    burst = [fake.chatbot_text(STAFF, f"消息 {i}") for i in range(messages)]
    started = time.perf_counter()
    ids = [fake.deliver_chatbot(p) for p in burst]
    for mid in ids:
        fake.wait_for_ack(mid, timeout=120)
    per_second = messages / (max(fake.acked_at[m] for m in ids) - started)
    paced = [fake.chatbot_text(STAFF, f"定速 {i}") for i in range(messages)]
    begin = time.perf_counter()
    ids = []
    for i, payload in enumerate(paced):
        delay = begin + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        ids.append(fake.deliver_chatbot(payload))
    for mid in ids:
        fake.wait_for_ack(mid, timeout=120)
    latencies = [(fake.acked_at[m] - fake.sent_at[m]) * 1000 for m in ids]
    return {"per_second": per_second, "p50": statistics.median(latencies), "p99": percentile(latencies, 99)}


def run(fake: FakeDingTalk, start: Callable[[], None], stop: Callable[[], None], messages: int,
        rate: float) -> dict[str, float]:
    connections = fake.connection_count
    start()
    fake.wait_for_connection(connections + 1, timeout=30)
    try:
        measure(fake, min(messages, 200), rate)  # warm-up: connection pools, imports, JIT-free but cold caches
        return measure(fake, messages, rate)
    finally:
        stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=300.0, help="offered load for the latency run, messages/s")
    parser.add_argument("--db-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeDingTalk() as fake:
        url = args.db_url or f"sqlite:///{tmp}/bench.db"
        settings = load_settings(os.devnull, environ={}, overrides={"database": {"url": url}, "dingtalk": fake.liuhen_config()})
        runtime = Runtime(settings)
        runtime.migrate()
        bare = BareClient(fake)
        baseline = run(fake, bare.start, bare.stop, args.messages, args.rate)
        assert runtime.dingtalk is not None
        channel = runtime.dingtalk
        ours = run(fake, lambda: channel.listen(runtime.inbox.ingest_many, lambda: None), channel.close,
                   args.messages, args.rate)
    print(f"database: {url.split(':', 1)[0]}; {args.messages} messages; latency at {args.rate:.0f}/s offered; "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, got in (("ACK-only SDK handler", baseline), ("liuhen handler (inbox insert)", ours)):
        print(f"{name:30} {got['per_second']:8.0f} msg/s   ACK p50 {got['p50']:6.2f} ms   p99 {got['p99']:6.2f} ms")
    print(f"ratio (ours / baseline): {ours['per_second'] / baseline['per_second']:.2f}x throughput")


if __name__ == "__main__":
    main()
