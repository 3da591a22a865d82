"""`liuhen demo`: an embedded SQLite company and the simulator, with no platform account needed."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from bot import orgfile
from bot.config import load_settings
from bot.runtime import Runtime
from store.db import session_scope


def prepare(*, db_path: Path, port: int) -> Runtime:
    """Builds a demo runtime on its own SQLite file, migrated and seeded (idempotent)."""
    settings = load_settings(
        environ={},
        overrides={
            "database": {"url": f"sqlite:///{db_path}"},
            "server": {"port": port, "public_url": f"http://127.0.0.1:{port}"},
            "local": {"enabled": True},
        },
    )
    runtime = Runtime(settings)
    runtime.migrate()
    with as_file(files("bot.demo").joinpath("org.yaml")) as org_path:
        teams, users = orgfile.parse(org_path)
    with session_scope(runtime.engine) as session:
        orgfile.apply(session, teams, users)
    return runtime
