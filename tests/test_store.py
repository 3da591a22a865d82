from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, SQLModel, select

from store import inbox, outbox
from store.models import Customer, Message, Outbox

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_migrations_and_models_agree(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == []


def test_times_round_trip_as_utc_and_naive_times_are_refused(engine):
    shanghai = NOW.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    with Session(engine) as session:
        session.add(Customer(name="华东医疗器械有限公司", created_at=shanghai))
        session.commit()
        stored = session.exec(select(Customer)).one()
        assert stored.created_at == NOW and stored.created_at.tzinfo is not None
    with Session(engine) as session, pytest.raises(Exception, match="naive"):
        session.add(Customer(name="x", created_at=datetime(2026, 1, 1)))
        session.commit()


def test_inbound_insert_is_unique_on_channel_and_msg_id(engine):
    args = dict(kind="text", received_at=NOW, event={"x": 1}, sender="lilei", text="帮助")
    first = inbox.store_inbound_committed(engine, channel="wecom", msg_id="m1", **args)
    again = inbox.store_inbound_committed(engine, channel="wecom", msg_id="m1", **args)
    other_channel = inbox.store_inbound_committed(engine, channel="dingtalk", msg_id="m1", **args)
    assert first and other_channel and again is None
    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 2


def test_outbox_dedupe_key_is_used_once_ever(engine):
    with Session(engine) as session:
        first = outbox.enqueue(session, dedupe_key="stage_yellow:1:2026-12-01", kind="text",
                               payload={"text": "a"}, now=NOW)
        again = outbox.enqueue(session, dedupe_key="stage_yellow:1:2026-12-01", kind="text",
                               payload={"text": "b"}, now=NOW)
        session.commit()
        assert first is not None and again is None
        rows = session.exec(select(Outbox)).all()
        assert [r.payload["text"] for r in rows] == ["a"]


def test_outbox_due_orders_by_time_and_skips_future_rows(engine):
    with Session(engine) as session:
        outbox.enqueue(session, dedupe_key="later", kind="text", payload={}, now=NOW,
                       due_at=NOW + timedelta(hours=1))
        outbox.enqueue(session, dedupe_key="now", kind="text", payload={}, now=NOW)
        session.commit()
        assert [r.dedupe_key for r in outbox.due(session, now=NOW)] == ["now"]
        assert [r.dedupe_key for r in outbox.due(session, now=NOW + timedelta(hours=2))] == ["now", "later"]


def test_backoff_doubles_and_is_capped():
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert outbox.backoff(30).total_seconds() == 3600
