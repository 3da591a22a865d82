"""The rules and module switches a process runs by: the active saved version, else rules_dir and config.yaml."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.config import ModulesConfig, Settings
from rules.loader import RulesError, RuleSet, load_rules, load_texts, rule_texts
from store import rule_versions
from store.db import session_scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Book:
    """One consistent configuration: `version` None means no version was saved and the files on disk apply."""

    version: int | None
    rules: RuleSet
    modules: ModulesConfig
    texts: dict[str, str]


def with_switches(config: ModulesConfig, switches: dict[str, bool]) -> ModulesConfig:
    """The console's switches override config.yaml's `modules:`; a module the console never set keeps config's."""
    return config.model_copy(update={name: bool(on) for name, on in switches.items() if name in ModulesConfig.model_fields})


def from_files(settings: Settings) -> Book:
    return Book(None, load_rules(settings.rules_dir), settings.modules, rule_texts(settings.rules_dir))


def read(settings: Settings, engine: Engine) -> Book:
    """The active version as a Book (RulesError if its files no longer validate), or the files on disk."""
    with session_scope(engine) as session:
        row = rule_versions.active(session)
    if row is None:
        return from_files(settings)
    return Book(row.id, load_texts(row.files), with_switches(settings.modules, row.modules),
                {**rule_texts(), **row.files})


class LiveBook:
    """Holds the process's Book and swaps it when another process (or this one) saves a version."""

    def __init__(self, settings: Settings, engine: Engine, on_change: Callable[[Book], None]) -> None:
        self.settings, self.engine, self.on_change = settings, engine, on_change
        self.book = from_files(settings)
        self._lock = threading.Lock()  # the worker and the scheduler's thread both refresh

    def refresh(self) -> bool:
        """One cheap query for the active id; reloads only when it moved. A version that fails to load (or a
        database not reachable now) leaves the process on what it has, logged, rather than stopping it."""
        with self._lock:
            try:
                with session_scope(self.engine) as session:
                    current = rule_versions.active_id(session)
                if current == self.book.version:
                    return False
                book = read(self.settings, self.engine)
            except (SQLAlchemyError, RulesError) as exc:
                log.warning("rules not reloaded: %s", exc)
                return False
            self.book = book
            self.on_change(book)
        log.info("rules now at version %s", book.version)
        return True
