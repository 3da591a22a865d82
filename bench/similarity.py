"""Similarity engine latency over many closed deals vs a full scan of the same history, in the same run.

    .venv/bin/python -m bench.similarity [--n 100000] [--queries 30] [--db sqlite|postgresql]

Generates its own data (bench/data/, not committed; PostgreSQL: a throw-away schema in
LIUHEN_TEST_DATABASE_URL). "engine" is `handlers.forecast.expected_cycle` (candidate set narrowed
in SQL on `ix_opportunity_similar`); "full scan" reads every won deal of the window and ranks
them all with the same pure `rules.forecast.cycle`. Both must give the same answer.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlmodel import Session

from bench.sweeps import AT, CHUNK
from bench.sweeps import engine_for as postgres_engine
from handlers.forecast import expected_cycle
from rules import forecast as judge
from rules.loader import load_rules
from store import migrate
from store.db import make_engine
from store.models import Customer, Opportunity

INDUSTRIES = ["医疗", "教育", "金融", "零售", "制造业", "政府", "能源", "物流"]
SCANS = 5  # the full scan is slow; its first targets are the engine's first
ROLES = ["设备科", "信息中心", "采购", "财务", "法务", "科技部"]


def chain(rng: random.Random) -> list[dict[str, str]]:
    extra = rng.sample(ROLES, rng.randint(0, 2))
    return [{"name": "决策人", "title": "总经理", "role": "决策人"}] + [
        {"name": r, "title": r, "role": r} for r in extra]


def engine_for(kind: str, n: int):
    if kind == "postgresql":
        return postgres_engine(kind, n)
    path = Path(__file__).parent / "data" / f"similarity-{n}.db"
    path.parent.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    return make_engine(f"sqlite:///{path}"), None


def generate(engine, n: int, bands: list[str], seed: int = 11) -> None:
    rng = random.Random(seed)
    with engine.begin() as conn:
        conn.execute(insert(Customer), [{"id": 1, "name": "历史客户", "aliases": []}])
    for start in range(0, n, CHUNK):
        rows = []
        for i in range(start, min(n, start + CHUNK)):
            closed = (AT - timedelta(days=rng.randint(1, 4 * 365))).astimezone(UTC)
            created = closed - timedelta(days=rng.randint(10, 120))
            rows.append({"id": i + 1, "customer_id": 1, "name": f"商机{i}", "stage": "赢单", "status": "won",
                         "stage_entered_at": closed, "last_update_at": closed, "created_at": created,
                         "closed_at": closed, "industry": rng.choice(INDUSTRIES), "budget_band": rng.choice(bands),
                         "decision_chain": chain(rng), "evidence": {}, "tags": []})
        with engine.begin() as conn:
            conn.execute(insert(Opportunity), rows)


def full_scan(session: Session, target: Opportunity, rules) -> judge.Cycle | None:
    spec = rules.forecast.similarity
    since = AT - timedelta(days=365 * spec.lookback_years)
    stmt = select(Opportunity.created_at, Opportunity.closed_at, Opportunity.industry, Opportunity.budget_band,
                  Opportunity.decision_chain).where(Opportunity.status == "won")
    history = [judge.Deal(industry, band, judge.structure(chain or []), (closed - created).days)
               for created, closed, industry, band, chain in session.execute(stmt) if closed >= since]
    return judge.cycle(judge.Deal(target.industry, target.budget_band, judge.structure(target.decision_chain)),
                       history, [b.name for b in rules.leads.budget_bands], spec)


def timed(fn, targets) -> tuple[float, list]:
    answers, seconds = [], []
    for target in targets:
        started = time.perf_counter()
        answers.append(fn(target))
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), answers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    rules = load_rules()
    bands = [b.name for b in rules.leads.budget_bands]
    engine, cleanup = engine_for(args.db, args.n)
    try:
        migrate.upgrade(engine)
        started = time.perf_counter()
        generate(engine, args.n, bands)
        print(f"generated {args.n} closed deals in {time.perf_counter() - started:.1f}s ({args.db})")
        rng = random.Random(3)
        targets = [Opportunity(customer_id=1, name="当前", stage="合同签署", industry=rng.choice(INDUSTRIES),
                               budget_band=rng.choice(bands), decision_chain=chain(rng)) for _ in range(args.queries)]
        with Session(engine) as session:
            engine_s, engine_answers = timed(lambda t: expected_cycle(session, t, rules, AT), targets)
            scanned = targets[:SCANS]
            scan_s, scan_answers = timed(lambda t: full_scan(session, t, rules), scanned)
        assert engine_answers[:SCANS] == scan_answers, "the engine and the full scan disagree"
        print(f"similarity engine: {engine_s * 1000:.1f} ms median per query ({args.queries} queries)")
        print(f"full scan:         {scan_s * 1000:.1f} ms median per query ({SCANS} queries, same targets)")
        print(f"ratio:             {scan_s / engine_s:.0f}x faster")
    finally:
        engine.dispose()
        if cleanup:
            admin, schema = cleanup
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


if __name__ == "__main__":
    main()
