"""`liuhen demo`: an embedded SQLite company and the simulator, with no platform account needed."""

from __future__ import annotations

from datetime import datetime, time
from importlib.resources import as_file, files
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from bot import orgfile
from bot.config import load_settings
from bot.demo import seed as company
from bot.runtime import Runtime
from rules.loader import RuleSet
from store.db import session_scope

DEMO_START = time(10, 0)  # the simulated day starts at a working hour, whenever the demo is run (no quiet hours)


def populate(engine: Engine, rules: RuleSet, *, at: datetime, tz: ZoneInfo, seed: int = company.SEED) -> company.Counts:
    """Imports the demo org and seeds its history as of `at`; both steps are idempotent."""
    with as_file(files("bot.demo").joinpath("org.yaml")) as org_path:
        teams, users = orgfile.parse(org_path)
    with session_scope(engine) as session:
        orgfile.apply(session, teams, users)
    with session_scope(engine) as session:
        return company.seed(session, rules, at=at, tz=tz, seed=seed)


def prepare(*, db_path: Path, port: int) -> Runtime:
    """Builds a demo runtime on its own SQLite file, migrated and seeded (idempotent), its clock at today's 10:00."""
    settings = load_settings(
        environ={},
        overrides={
            "database": {"url": f"sqlite:///{db_path}"},
            "server": {"port": port, "public_url": f"http://127.0.0.1:{port}"},
            "local": {"enabled": True},
        },
    )
    runtime = Runtime(settings)
    start = datetime.combine(runtime.clock.today(), DEMO_START, runtime.clock.tz)
    runtime.clock.advance(start - runtime.clock.now())
    runtime.migrate()
    populate(runtime.engine, runtime.rules, at=runtime.clock.now(), tz=runtime.clock.tz)
    return runtime
