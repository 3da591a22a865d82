"""Picks the handler for an event: command word (also menu key) > open dialog > card action > event kind."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.events import RUN, CommandInfo, Event, Handler, Route

log = logging.getLogger(__name__)

# What may follow a command word before its arguments: nothing, spaces or punctuation, full- or half-width.
_AFTER_WORD = re.compile(r"[\s,.!?;:~、，。！？；：…]+")


def _half_width(text: str) -> str:
    return "".join(chr(ord(ch) - 0xFEE0) if 0xFF01 <= ord(ch) <= 0xFF5E else " " if ch == "\u3000" else ch
                   for ch in text)


@dataclass(frozen=True)
class Match:
    handler: Handler
    route: Route
    args: str = ""  # the text after a command word


class Router:
    """Built once from the routes of the enabled modules, in their declared order."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._commands: dict[str, Route] = {}
        self._actions: dict[str, Route] = {}
        self._kinds: dict[str, Route] = {}
        self._flows: dict[str, Route] = {}
        tables = {"command": self._commands, "action": self._actions, "kind": self._kinds, "flow": self._flows}
        for route in routes:
            table = tables[route.kind]
            if route.key in table:
                raise ValueError(f"two handlers for {route.kind} {route.key!r}")
            table[route.key] = route
        self._words = sorted(self._commands, key=len, reverse=True)

    @property
    def commands(self) -> list[CommandInfo]:
        return [CommandInfo(r.key, r.usage, r.help) for r in self._commands.values() if r.help]

    def command_for(self, text: str) -> Match | None:
        """A command word alone or followed by spaces or punctuation (帮助？, 新线索：…); full-width is half-width."""
        stripped = _half_width(text).strip()
        for word in self._words:
            if not stripped.startswith(word):
                continue
            rest = stripped[len(word) :]
            gap = _AFTER_WORD.match(rest)
            if not rest or gap:
                return self.command(word, rest[gap.end() :] if gap else "")
        return None

    def command(self, word: str, args: str) -> Match | None:
        """The command `word` with `args` as if typed; None when its module is switched off."""
        route = self._commands.get(word)
        return Match(route.handler, route, args.strip()) if route else None

    def action_for(self, action: str) -> Match | None:
        best = max(
            (key for key in self._actions if action == key or action.startswith(key + ":")), key=len, default=None
        )
        return Match(self._actions[best].handler, self._actions[best]) if best else None

    def resolve(self, event: Event, *, flow: str | None, action: str | None,
                data: Mapping[str, Any] | None = None) -> Match | None:
        """`flow` is the user's open dialog; `action` and `data` the server-side meaning of a clicked button."""
        if event.kind == "card_action":
            if action == RUN and data:
                return self.command(str(data.get("command", "")), str(data.get("args", "")))
            return self.action_for(action) if action else None
        if event.kind == "menu_click" and event.action:
            return self.command_for(event.action)
        if event.kind == "text":
            match = self.command_for(event.text)
            if match:
                return match
            if flow and flow in self._flows:
                return Match(self._flows[flow].handler, self._flows[flow], event.text.strip())
        route = self._kinds.get(event.kind)
        if route:
            return Match(route.handler, route)
        log.info("no handler for %s event %s (text %r); add on_kind(%r, …) to a module", event.kind,
                 event.msg_id, event.text[:40], event.kind)
        return None
