"""Test-only launcher: `python -m tests.reliability.killpoint [--after N] POINT serve --config …`.

Fault injection, not mocking: the named function of our own code runs for real, and right after its
N-th call returns the process sends itself SIGKILL — no `finally`, no shutdown hook, no flush runs,
exactly as if the machine lost power at that line. Targets are looked up by import path at launch,
so a renamed function fails the run loudly instead of silently never firing.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import os
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

# point -> "module:Owner.function" (or "module:function")
POINTS: dict[str, str] = {
    # the callback is verified and decrypted, nothing stored: WeCom gets no answer
    "after_decrypt": "bot.channels.wecom_crypto:CallbackCrypto.open",
    # the inbox rows are committed, WeCom gets no answer (the stream gets no ACK)
    "after_commit": "bot.inbox:InboxProcessor.ingest_many",
    # a handler's transaction (replies queued in the outbox, row marked processed) is committed, nothing sent
    "after_process": "bot.inbox:InboxProcessor.process",
    # the platform accepted a message; the outbox row is still `sending`
    "after_send": "bot.channels.wecom:WeComChannel.deliver",
}


def resolve(target: str) -> tuple[Any, str, Callable[..., Any]]:
    """(owner, attribute name, function) for `module:Owner.function`; exits with a clear message if gone."""
    module_name, _, path = target.partition(":")
    try:
        owner: Any = importlib.import_module(module_name)
        *owners, name = path.split(".")
        for part in owners:
            owner = getattr(owner, part)
        function = getattr(owner, name)
    except (ImportError, AttributeError) as exc:
        raise SystemExit(f"killpoint target {target} not found ({exc}); update POINTS in {__file__}") from exc
    if not callable(function) or inspect.iscoroutinefunction(function):
        raise SystemExit(f"killpoint target {target} is not a plain function")
    return owner, name, function


def arm(point: str, after: int = 1) -> None:
    """Wraps the point's function so that its `after`-th return kills this process."""
    owner, name, original = resolve(POINTS[point])
    lock = threading.Lock()
    calls = 0

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        result = original(*args, **kwargs)
        with lock:
            calls += 1
            fire = calls >= after
        if fire:
            os.write(2, f"killpoint {point}: SIGKILL after call {calls}\n".encode())
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, wrapper)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("point", choices=sorted(POINTS))
    parser.add_argument("--after", type=int, default=1, help="the call whose return kills the process")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the liuhen command line, e.g. serve --config …")
    args = parser.parse_args(argv)
    arm(args.point, args.after)
    from bot.cli import main as liuhen

    return liuhen(args.command)


if __name__ == "__main__":
    raise SystemExit(main())
