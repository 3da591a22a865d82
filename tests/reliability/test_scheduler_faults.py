"""Scheduled pushes across process deaths and doubled schedulers: each push reaches its rep once.

A sweep is evaluated "as of" an instant with `liuhen jobs run NAME --at …` (what the scheduler's cron does
at that instant); the `liuhen serve` children deliver what it queued to the fake WeCom.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, time, timedelta

from bot.clock import Clock
from rules.loader import load_rules
from store.db import make_engine
from tests.conftest import TZ
from tests.pipeline_helpers import opportunity
from tests.reliability.harness import ROOT, child_env, liuhen, outbox_rows, rep, settled
from tests.waiting import wait_until

STAGE = "线索"
SETTLE = 60.0


def instants() -> tuple[datetime, datetime, datetime, datetime]:
    """(stage entered, a tick the day before the light turns yellow, the first tick after, the tick after that).

    All in the past at 10:00 local (outside quiet hours), so the pushes are due at once for the real clock.
    """
    [stage] = [s for s in load_rules().stages.stages if s.name == STAGE]
    assert stage.escalate_days - stage.yellow_days >= 3, "the ticks below must stay before escalation"
    entered = datetime.combine(Clock(TZ).today() - timedelta(days=30), time(10), TZ)
    before = entered + timedelta(days=stage.yellow_days - 1)
    due = entered + timedelta(days=stage.yellow_days + 1)
    return entered, before, due, due + timedelta(days=1)


def seed_stalled(db_url: str, reps: range, entered: datetime) -> None:
    engine = make_engine(db_url)
    for n in reps:
        opportunity(engine, customer=f"停滞客户{n:02d}", owner=rep(n), stage=STAGE, at=entered)
    engine.dispose()


def run_stage_lights(config, at: datetime) -> None:
    liuhen("jobs", "run", "stage_lights", "--at", at.isoformat(), config=config)


def stage_pushes(db_url: str) -> list:
    return [o for o in outbox_rows(db_url) if o.dedupe_key.startswith("stage_yellow:")]


def test_a_reminder_due_while_the_server_is_dead_is_sent_once_after_restart(wecom, wecom_config, seeded_db, servers):
    entered, before, due, after = instants()
    seed_stalled(seeded_db, range(1), entered)
    server = servers(wecom_config).start()
    run_stage_lights(wecom_config, before)
    assert stage_pushes(seeded_db) == []

    server.kill()  # dead across the tick at which the light turns yellow
    server.start()
    run_stage_lights(wecom_config, due)  # the first tick after the restart catches up (sweeps are state-based)
    run_stage_lights(wecom_config, after)  # and the next one finds nothing new

    wait_until(lambda: wecom.sent_messages(touser=rep(0)), SETTLE, "the catch-up reminder")
    wait_until(lambda: settled(seeded_db, "wecom"), SETTLE, "the outbox to drain")
    assert len(wecom.sent_messages(touser=rep(0))) == 1
    assert [o.status for o in stage_pushes(seeded_db)] == ["sent"]


def test_a_push_whose_sender_died_after_the_platform_took_it_is_not_sent_again(
        wecom, wecom_config, seeded_db, servers):
    entered, _, due, after = instants()
    seed_stalled(seeded_db, range(1), entered)
    server = servers(wecom_config).start(killpoint="after_send", after=1)
    run_stage_lights(wecom_config, due)
    server.wait_killed()  # WeCom accepted the reminder; the row could not be marked sent
    assert len(wecom.sent_messages(touser=rep(0))) == 1

    server.start()
    run_stage_lights(wecom_config, after)
    wait_until(lambda: settled(seeded_db, "wecom"), SETTLE, "the outbox to drain")
    assert len(wecom.sent_messages(touser=rep(0))) == 1
    # the documented narrow case: left in `sending`, back to pending only at a start 5 minutes later
    assert [o.status for o in stage_pushes(seeded_db)] == ["sending"]


def test_two_schedulers_at_once_deliver_each_push_once(wecom, wecom_config, seeded_db, servers):
    entered, _, due, _ = instants()
    reps = range(10)
    seed_stalled(seeded_db, reps, entered)
    first, second = servers(wecom_config).start(), servers(wecom_config).start()
    wait_until(lambda: sorted([first.health()["scheduler"], second.health()["scheduler"]]) == [
        "follower", "leader"], SETTLE, "one leader and one follower among two servers")

    # two sweeps of the same tick at the same time (as two schedulers without a shared lock would run it)
    command = [sys.executable, "-m", "bot", "jobs", "run", "stage_lights", "--at", due.isoformat(),
               "--config", str(wecom_config)]
    runs = [subprocess.Popen(command, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err

    wait_until(lambda: len(wecom.sent_messages()) >= len(reps), SETTLE, "the reminders")
    wait_until(lambda: settled(seeded_db, "wecom"), SETTLE, "the outbox to drain")
    assert sorted(m["touser"] for m in wecom.sent_messages()) == [rep(n) for n in reps]
    assert sorted(o.status for o in stage_pushes(seeded_db)) == ["sent"] * len(reps)
