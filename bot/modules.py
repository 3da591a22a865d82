"""The one registry that wires capabilities: a module switched off in config registers nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.config import ModulesConfig
from bot.events import Route
from handlers import digest, pipeline
from handlers import help as help_handlers


@dataclass(frozen=True)
class Module:
    name: str
    routes: list[Route] = field(default_factory=list)


CORE = Module("core", help_handlers.ROUTES + digest.ROUTES)

# Capabilities in the order their routes are tried; each may be switched off alone ("一键开启").
FEATURES: list[Module] = [
    Module("stage_lights", pipeline.ROUTES),
]


def enabled_modules(config: ModulesConfig) -> list[Module]:
    return [CORE] + [m for m in FEATURES if getattr(config, m.name)]


def is_enabled(config: ModulesConfig, module: str) -> bool:
    return module == CORE.name or bool(getattr(config, module))


def enabled_routes(config: ModulesConfig) -> list[Route]:
    return [route for module in enabled_modules(config) for route in module.routes]
