"""Runs the Alembic migrations programmatically (no alembic.ini needed in a deployment)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", "store:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Brings the database to `revision`; safe to run on every start."""
    command.upgrade(alembic_config(engine), revision)
