"""Sweep cost over many opportunities vs a raw SQL count of the same predicate, in the same run.

    .venv/bin/python -m bench.sweeps [--n 1000000] [--db sqlite|postgresql] [--sweeps stage_lights,payments,health]

Generates its own data (bench/data/, not committed; PostgreSQL: a throw-away schema in
LIUHEN_TEST_DATABASE_URL). Each sweep runs in a transaction that is rolled back, so every repeat
sees the same state. Prints seconds, the ratio to the count, and peak Python memory (tracemalloc).

The first tick after the bulk load has no rules recorded, so it recomputes every stored change instant (as
after a migration or a rules change) and raises every alert; the settled tick is the next one. The count
is the raw count of what the sweep reports; "due" counts the rows whose stored instant has passed, the
only rows a by-change sweep reads.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import and_, create_engine, func, insert, select, text
from sqlmodel import Session

from rules.lights import cutoffs, next_change
from rules.loader import load_rules
from scheduler import health
from scheduler.registry import JOBS
from store import migrate
from store.db import make_engine
from store.models import Customer, Opportunity, PaymentMilestone, Team, Touch, User

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)
CHUNK = 20_000
REPS = 50


def engine_for(kind: str, n: int):
    if kind == "sqlite":
        path = Path(__file__).parent / "data" / f"sweeps-{n}.db"
        path.parent.mkdir(exist_ok=True)
        path.unlink(missing_ok=True)
        return make_engine(f"sqlite:///{path}"), None
    base = os.environ["LIUHEN_TEST_DATABASE_URL"]
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    return make_engine(f"{base}{sep}options={quote(f'-csearch_path={schema}')}"), (admin, schema)


def generate(engine, n: int, stalled: float, seed: int = 7, upgraded: bool = False) -> None:
    """n open opportunities over n/10 customers; a `stalled` share idle 8–20 days, 1% with a payment milestone.

    Each opportunity is written as a creating handler would, green until its light first changes; `upgraded`
    leaves that instant as migration 0007 does (its last update), so the first tick recomputes every row."""
    rng = random.Random(seed)
    rules = load_rules()
    stages = [s.name for s in rules.stages.stages if not (s.won or s.lost)]
    with engine.begin() as conn:
        conn.execute(insert(User), [{"id": "mgr", "name": "主管", "role": "manager", "active": True}])
        conn.execute(insert(Team), [{"id": 1, "name": "一组", "manager_id": "mgr"}])
        conn.execute(insert(User), [{"id": f"rep{i}", "name": f"销售{i}", "role": "rep", "team_id": 1, "active": True}
                                    for i in range(REPS)])
    customers = max(1, n // 10)
    for start in range(0, customers, CHUNK):
        with engine.begin() as conn:
            conn.execute(insert(Customer), [
                {"id": i + 1, "name": f"客户{i}", "aliases": [], "owner_id": f"rep{i % REPS}"}
                for i in range(start, min(customers, start + CHUNK))])
    for start in range(0, n, CHUNK):
        rows, milestones, touches = [], [], []
        for i in range(start, min(n, start + CHUNK)):
            idle = rng.randint(8, 20) if rng.random() < stalled else rng.randint(0, 3)
            last = (AT - timedelta(days=idle, hours=rng.randint(0, 20))).astimezone(UTC)
            stage = rng.choice(stages)
            rows.append({"id": i + 1, "customer_id": i % customers + 1, "owner_id": f"rep{i % REPS}",
                         "name": f"商机{i}", "stage": stage, "stage_entered_at": last,
                         "last_update_at": last, "status": "open", "decision_chain": [], "evidence": {},
                         "tags": [], "light": "green",
                         "light_changes_at": last if upgraded else next_change(rules.stages.stage(stage), last, last)})
            if rng.random() < 0.01:
                milestones.append({"opportunity_id": i + 1, "label": "首付款", "amount": 100_000,
                                   "received_amount": 0, "due_on": (AT + timedelta(days=rng.randint(-5, 30))).date(),
                                   "receipt": {}})
            if rng.random() < 0.2:
                touches.append({"customer_id": i % customers + 1, "rep_id": f"rep{i % REPS}", "kind": "pdf",
                                "valid": True, "at": last, "source": "local", "evidence": {}})
        with engine.begin() as conn:
            conn.execute(insert(Opportunity), rows)
            if milestones:
                conn.execute(insert(PaymentMilestone), milestones)
            if touches:
                conn.execute(insert(Touch), touches)
    analyze(engine)


def analyze(engine) -> None:
    """Fresh planner statistics after a bulk write (PostgreSQL plans an unanalyzed table as empty), and on
    PostgreSQL the dead rows of a bulk update vacuumed, as autovacuum would do before the next tick."""
    postgres = engine.dialect.name == "postgresql"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))


def count_stage_lights(session: Session) -> int:
    """The raw count of what the stage-light sweep reports: the baseline it is compared with."""
    total = 0
    for stage in load_rules().stages.stages:
        yellow, escalate = cutoffs(stage, AT)
        if yellow is None:
            continue
        total += session.execute(select(func.count()).select_from(Opportunity).where(and_(
            Opportunity.status == "open", Opportunity.stage == stage.name, Opportunity.last_update_at <= yellow,
        ))).scalar_one()
    return total


def count_payments(session: Session) -> int:
    due_by = (AT + timedelta(days=15)).date()
    return session.execute(select(func.count()).select_from(PaymentMilestone).where(
        PaymentMilestone.received_amount < PaymentMilestone.amount, PaymentMilestone.due_on <= due_by)).scalar_one()


def count_due_health(session: Session, at: datetime) -> int:
    """Opportunities whose health rescore instant has passed: what the health tick at `at` reads."""
    return session.execute(select(func.count()).select_from(Opportunity)
                           .where(Opportunity.health_rescore_at <= at)).scalar_one()


def bench_health(engine, args: argparse.Namespace, rules) -> None:
    """First tick after the bulk load (every row due), then ticks against a count of the due rows: settled (the
    same instant again: nothing due) and the next day (rows whose evidence or stage clock moved overnight)."""
    def tick(at: datetime):
        return lambda session: health.run(session, at, rules, TZ)

    base_s, base_n, _ = timed(engine, lambda s: count_due_health(s, AT), args.repeats)
    first_s, pushes, peak = timed(engine, tick(AT), args.repeats)
    print(f"{args.db} health        n={args.n:>9,}  count due {base_s * 1000:8.1f} ms ({base_n:,} rows)  "
          f"first tick {first_s:6.1f} s ({pushes:,} pushes)  peak {peak:6.1f} MiB")
    logging.basicConfig(level=logging.INFO, format="  %(message)s")  # the batch job's progress, committed once
    with Session(engine) as session:
        health.run(session, AT, rules, TZ)
        session.commit()
    logging.getLogger().setLevel(logging.WARNING)
    analyze(engine)
    for label, at in (("settled", AT), ("next day", AT + timedelta(days=1))):
        base_s, base_n, _ = timed(engine, lambda s, at=at: count_due_health(s, at), args.repeats)
        tick_s, pushes, peak = timed(engine, tick(at), args.repeats)
        print(f"{args.db} health {label:8s} n={args.n:>9,}  count due {base_s * 1000:8.1f} ms ({base_n:,} rows)  "
              f"tick {tick_s * 1000:8.1f} ms ({pushes:,} pushes) {tick_s / base_s:6.2f}x  peak {peak:6.1f} MiB")


BASELINES = {"stage_lights": count_stage_lights, "payments": count_payments}
INSTANTS = {"stage_lights": Opportunity.light_changes_at, "payments": PaymentMilestone.next_due_at}


def count_due(session: Session, name: str) -> int | None:
    """Rows whose stored change instant has passed: what a by-change sweep reads (None: not such a sweep)."""
    if name not in INSTANTS:
        return None
    column = INSTANTS[name]
    return session.execute(select(func.count()).where(column <= AT)).scalar_one()


def timed(engine, fn, repeats: int) -> tuple[float, int, float]:
    """Best of `repeats` (seconds), the result, and peak traced memory in MiB from one more, traced run.

    Always rolled back, so every run sees the same state; timing runs are not traced (tracemalloc slows
    Python several times over).
    """
    best, result = float("inf"), 0
    for _ in range(repeats):
        with Session(engine) as session:
            started = time.perf_counter()
            result = fn(session)
            best = min(best, time.perf_counter() - started)
            session.rollback()
    with Session(engine) as session:
        tracemalloc.start()
        fn(session)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        session.rollback()
    return best, result, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--sweeps", default="stage_lights,payments")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stalled", type=float, default=0.03, help="share of opportunities idle past yellow")
    parser.add_argument("--upgraded", action="store_true",
                        help="opportunities as migration 0007 leaves them: the first tick recomputes every light")
    args = parser.parse_args()
    engine, cleanup = engine_for(args.db, args.n)
    try:
        migrate.upgrade(engine)
        started = time.perf_counter()
        generate(engine, args.n, args.stalled, upgraded=args.upgraded)
        print(f"{args.db}: generated {args.n:,} opportunities in {time.perf_counter() - started:.1f} s")
        rules = load_rules()
        for name in args.sweeps.split(","):
            if name == "health":
                bench_health(engine, args, rules)
                continue
            job = JOBS[name]
            base_s, base_n, _ = timed(engine, BASELINES[name], args.repeats)
            first_s, pushes, peak = timed(engine, lambda s, job=job: job.run(s, AT, rules, TZ), args.repeats)
            with Session(engine) as session:  # commit one run: the next sweeps see a settled state
                job.run(session, AT, rules, TZ)
                session.commit()
            analyze(engine)  # the alerts just written, as autovacuum would see them in production
            steady_s, _, steady_peak = timed(engine, lambda s, job=job: job.run(s, AT, rules, TZ), args.repeats)
            with Session(engine) as session:
                due = count_due(session, name)
            print(f"{args.db} {name:13s} n={args.n:>9,} stalled={args.stalled:.1%}  "
                  f"count {base_s * 1000:8.1f} ms ({base_n:,} rows)  "
                  f"first tick {first_s * 1000:8.1f} ms ({pushes:,} pushes) {first_s / base_s:5.2f}x  "
                  f"settled tick {steady_s * 1000:8.1f} ms {steady_s / base_s:5.2f}x"
                  f"{'' if due is None else f' ({due:,} rows due)'}  "
                  f"peak {max(peak, steady_peak):6.1f} MiB")
    finally:
        engine.dispose()
        if cleanup:
            admin, schema = cleanup
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


if __name__ == "__main__":
    main()
