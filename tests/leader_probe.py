"""A liuhen process competing for scheduler leadership, driven line by line from a test over stdin."""

import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from rules.loader import load_rules
from scheduler.leader import Leadership
from scheduler.registry import JOBS
from scheduler.runner import run_sweep
from store.db import make_engine

engine = make_engine(sys.argv[1])
at = datetime.fromisoformat(sys.argv[2])
TZ = ZoneInfo("Asia/Shanghai")  # the tests' zone; conftest is not imported outside pytest
leadership = Leadership(engine)
rules = load_rules()
for line in sys.stdin:
    if line.strip() == "tick":
        if leadership.try_acquire():
            print("leader", run_sweep(engine, JOBS["stage_lights"], at, rules, TZ), flush=True)
        else:
            print("follower", flush=True)
