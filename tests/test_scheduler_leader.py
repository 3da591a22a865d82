import os
import signal
import subprocess
import sys
from datetime import timedelta

from sqlmodel import Session, select

from store.models import Alert, Outbox
from tests.conftest import T0, TESTS
from tests.pipeline_helpers import opportunity
from tests.waiting import wait_until


def probe(db_url: str, at) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIUHEN")}
    return subprocess.Popen([sys.executable, "-m", "tests.leader_probe", db_url, at.isoformat()],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                            cwd=TESTS.parent)


def tick(proc: subprocess.Popen) -> str:
    proc.stdin.write("tick\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


def test_two_processes_one_runs_the_sweeps_and_the_other_takes_over_when_it_dies(db_url, runtime):
    engine = runtime.engine
    for n in range(3):
        opportunity(engine, customer=f"客户{n}", at=T0)
    at = T0 + timedelta(days=5)
    first, second = probe(db_url, at), probe(db_url, at)
    try:
        assert tick(first) == "leader 1"  # three items for one rep: one digest
        assert tick(second) == "follower"
        assert tick(second) == "follower"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        # PostgreSQL frees the lock once the dead client's backend notices the closed socket: a moment later
        answer = wait_until(lambda: (told := tick(second)) != "follower" and told, 10, "the takeover", interval=0.05)
        assert answer == "leader 0"  # took over; the sweep finds nothing new to push
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait(timeout=10)
    with Session(engine) as session:
        assert len(session.exec(select(Outbox)).all()) == 1
        assert len(session.exec(select(Alert)).all()) == 3
