"""Picks the handler for an event: command word (also menu key) > open dialog > card action > event kind."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from bot.events import CommandInfo, Event, Handler, Route

log = logging.getLogger(__name__)


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
        stripped = text.strip()
        for word in self._words:
            if stripped == word or (stripped.startswith(word) and stripped[len(word)].isspace()):
                route = self._commands[word]
                return Match(route.handler, route, stripped[len(word) :].strip())
        return None

    def action_for(self, action: str) -> Match | None:
        best = max(
            (key for key in self._actions if action == key or action.startswith(key + ":")), key=len, default=None
        )
        return Match(self._actions[best].handler, self._actions[best]) if best else None

    def resolve(self, event: Event, *, flow: str | None, action: str | None) -> Match | None:
        """`flow` is the user's open dialog; `action` the server-side meaning of a clicked button."""
        if event.kind == "card_action":
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
