"""Bench: seeding the demo company (3 years of history) vs a bare insert of as many rows, same run.

    .venv/bin/python bench/seed.py [--repeats 3] [--db-url URL]

Each repeat migrates a fresh SQLite file (or a fresh PostgreSQL schema when --db-url / LIUHEN_TEST_DATABASE_URL
is given), imports the demo org, then times `bot.demo.populate` alone; the baseline times one executemany of the
same number of (id, text) rows into a scratch table on the same database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from bot.clock import Clock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.demo import populate  # noqa: E402
from rules.loader import load_rules  # noqa: E402
from store import migrate  # noqa: E402
from store.db import make_engine  # noqa: E402


def measure(base: str | None, folder: Path) -> tuple[float, float, int]:
    """One run on a fresh SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if base is None:
        return one(f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    try:
        return one(f"{base}{sep}options={quote(f'-csearch_path={schema}')}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def one(url: str) -> tuple[float, float, int]:
    """(seed seconds, bare insert seconds, rows) on one fresh database."""
    settings = load_settings(environ={}, overrides={"database": {"url": url}})
    engine = make_engine(url)
    migrate.upgrade(engine)
    rules, clock = load_rules(settings.rules_dir), Clock(settings.tz)
    start = time.perf_counter()
    counts = populate(engine, rules, at=clock.now(), tz=clock.tz)
    seeded = time.perf_counter() - start
    rows = sum(counts.rows.values())
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_scratch (id INTEGER PRIMARY KEY, body TEXT)"))
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO bench_scratch (id, body) VALUES (:id, :body)"),
                     [{"id": n, "body": f"row {n}"} for n in range(rows)])
    bare = time.perf_counter() - start
    engine.dispose()
    return seeded, bare, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--db-url", default=os.environ.get("LIUHEN_TEST_DATABASE_URL"))
    args = parser.parse_args()
    lanes = [("sqlite", None)] + ([("postgresql", args.db_url)] if args.db_url else [])
    with tempfile.TemporaryDirectory() as folder:
        for lane, base in lanes:
            runs = [measure(base, Path(folder)) for _ in range(args.repeats)]
            seeded = statistics.median(r[0] for r in runs)
            bare = statistics.median(r[1] for r in runs)
            rows = runs[0][2]
            print(f"{lane}: seed {seeded:.2f} s for {rows} rows ({rows / seeded:,.0f} rows/s); "
                  f"bare insert of as many rows {bare:.2f} s; ratio {seeded / bare:.1f}x "
                  f"(median of {args.repeats})")


if __name__ == "__main__":
    main()
