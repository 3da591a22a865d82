"""The one registry that wires capabilities: a module switched off in config registers nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.config import ModulesConfig
from bot.events import Route
from handlers import (
    behaviors,
    checklist,
    dashboard,
    digest,
    forecast,
    leads,
    org,
    payments,
    pipeline,
    progress,
    reports,
    stages,
    touches,
    understand,
    voice,
)
from handlers import help as help_handlers


@dataclass(frozen=True)
class Module:
    name: str
    routes: list[Route] = field(default_factory=list)


CORE = Module("core", help_handlers.ROUTES + digest.ROUTES + progress.ROUTES + org.ROUTES + dashboard.ROUTES
              + understand.ROUTES
              + voice.ROUTES)

# Capabilities in the order their routes are tried; each may be switched off alone ("一键开启").
FEATURES: list[Module] = [
    Module("stage_lights", pipeline.ROUTES),
    Module("payments", payments.ROUTES),
    Module("behaviors", behaviors.ROUTES),
    Module("leads", leads.ROUTES + stages.ROUTES),
    Module("touches", touches.ROUTES),
    Module("reports", reports.ROUTES + checklist.ROUTES),
    Module("forecast", forecast.ROUTES),
]


def enabled_modules(config: ModulesConfig) -> list[Module]:
    return [CORE] + [m for m in FEATURES if getattr(config, m.name)]


def is_enabled(config: ModulesConfig, module: str) -> bool:
    return module == CORE.name or bool(getattr(config, module))


def enabled_routes(config: ModulesConfig) -> list[Route]:
    return [route for module in enabled_modules(config) for route in module.routes]
