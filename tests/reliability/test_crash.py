"""kill -9 at named points while callbacks flow, then restart: acknowledged vs stored vs delivered.

The promises checked (DESIGN.md "Flows", docs/architecture.md):
  * every acknowledged callback is stored, exactly once (a redelivery after a lost answer stops at the inbox);
  * every stored event is processed exactly once (one committed claim, one reply row);
  * every owed reply is delivered exactly once — except for `after_send`, where the platform accepted a
    message whose row the process could not mark sent: that reply is delivered at least once, and no
    other reply more than once.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from tests.reliability.harness import (
    REPS,
    CallbackSender,
    callbacks,
    inbox_rows,
    outbox_rows,
    rep,
    settled,
)
from tests.waiting import wait_until

N = 120
SETTLE = 120.0
TEXTS = ["帮助", "客户说价格有点高，下周再约"]  # one reply each
# (point, the call whose return kills the process): late enough that traffic is flowing
POINTS = [("after_decrypt", 20), ("after_commit", 4), ("after_process", 20), ("after_send", 20)]


@pytest.mark.parametrize(("point", "after"), POINTS, ids=[p for p, _ in POINTS])
def test_kill_9_while_callbacks_flow_loses_nothing_acknowledged_and_doubles_nothing(
        point, after, wecom, wecom_sender, wecom_config, seeded_db, servers):
    server = servers(wecom_config).start(killpoint=point, after=after)
    items = callbacks(wecom_sender, [(rep(n % REPS), TEXTS[n % len(TEXTS)]) for n in range(N)])
    up = threading.Event()
    up.set()
    join = CallbackSender(server.port, concurrency=10, pause=0.5, up=up).start(items)

    server.wait_killed()
    up.clear()
    server.start()  # plain `liuhen serve` again, same database, same port
    up.set()
    deliveries = join()
    wait_until(lambda: settled(seeded_db, "wecom"), SETTLE, "the inbox and outbox to drain after restart")

    sent_ids = {i.msg_id for i in items}
    acknowledged = {d.callback.msg_id for d in deliveries if d.acknowledged}
    rows = inbox_rows(seeded_db, "wecom")
    stored = Counter(r.msg_id for r in rows)
    print(f"\n{point}: {N} sent, {len(acknowledged)} acknowledged, {len(stored)} stored")
    assert len(acknowledged) > N // 2, f"too few acknowledged to say anything: {len(acknowledged)}"
    assert acknowledged <= set(stored), f"acknowledged but not stored: {sorted(acknowledged - set(stored))}"
    assert set(stored) <= sent_ids and max(stored.values()) == 1, "each event stored exactly once"

    assert [r.msg_id for r in rows if r.processed_at is None or r.attempts != 1 or r.last_error] == []
    owed = [o for o in outbox_rows(seeded_db) if o.dedupe_key.startswith("reply:")]
    assert sorted(int(o.dedupe_key.split(":")[1]) for o in owed) == sorted(r.id for r in rows), \
        "one reply queued per stored event"
    assert [o.dedupe_key for o in owed if o.dedupe_key.split(":")[2] != "0"] == []

    owed_to = Counter(r.sender for r in rows)
    delivered_to = Counter(m["touser"] for m in wecom.sent_messages())
    if point == "after_send":
        assert all(delivered_to[user] >= count for user, count in owed_to.items()), "at least once"
        assert sum(delivered_to.values()) - sum(owed_to.values()) <= 1, "only the in-flight reply may repeat"
        assert Counter(o.status for o in owed) - Counter({"sending": 1}) == {"sent": len(owed) - 1}
    else:
        assert delivered_to == owed_to, "exactly once"
        assert {o.status for o in owed} == {"sent"}
