from datetime import timedelta

from sqlmodel import Session, select

from bot.channels.base import DeliveryError
from bot.events import Event
from store.models import Message, Outbox, SimMessage, User
from tests.waiting import wait_until


def text_event(runtime, text, msg_id="m1", sender="lilei", chat=None):
    return Event(channel="local", msg_id=msg_id, sender=sender, kind="text", text=text,
                 received_at=runtime.clock.now(), chat=chat)


def sent_to(runtime, user_id):
    with Session(runtime.engine) as session:
        return session.exec(select(SimMessage).where(SimMessage.user_id == user_id).order_by(SimMessage.id)).all()


def test_help_reply_lists_the_commands_of_enabled_modules(runtime):
    runtime.inbox.ingest(text_event(runtime, "帮助"))
    runtime.work_once()
    [reply] = sent_to(runtime, "lilei")
    card = reply.payload["card"]
    assert card["title"] == "留痕 · 可用命令"
    assert any("帮助" in line for line in card["lines"]) and any("取消" in line for line in card["lines"])


def test_duplicate_inbound_event_is_processed_once(runtime):
    assert runtime.inbox.ingest(text_event(runtime, "帮助")) is not None
    assert runtime.inbox.ingest(text_event(runtime, "帮助")) is None
    runtime.work_once()
    assert runtime.inbox.ingest(text_event(runtime, "帮助")) is None
    runtime.work_once()
    assert len(sent_to(runtime, "lilei")) == 1
    with Session(runtime.engine) as session:
        assert len(session.exec(select(Message)).all()) == 1


def test_row_left_unprocessed_by_a_crash_is_resumed_at_start_up(runtime):
    from store import inbox

    event = text_event(runtime, "帮助", msg_id="crashed")
    inbox.store_inbound_committed(runtime.engine, channel="local", msg_id="crashed", kind="text",
                                  received_at=event.received_at, event=event.to_dict(), sender="lilei", text="帮助")
    runtime.start(with_scheduler=False)
    runtime.stop()
    runtime.dispatcher.flush()
    assert len(sent_to(runtime, "lilei")) == 1
    with Session(runtime.engine) as session:
        assert session.exec(select(Message)).one().processed_at is not None


class FlakyPlatform:
    """A platform that refuses the first `failures` sends (the far side of the network boundary)."""

    name = "local"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[dict] = []

    def address_of(self, user: User) -> str | None:
        return user.id

    def deliver(self, session, message: Outbox, address):
        if self.failures:
            self.failures -= 1
            raise DeliveryError("HTTP 500 from platform")
        self.received.append({"to": address, **message.payload})
        return f"ref-{len(self.received)}"


def test_message_failing_twice_is_delivered_exactly_once_on_the_third_attempt(runtime):
    platform = FlakyPlatform(failures=2)
    runtime.channels["local"] = platform
    runtime.inbox.ingest(text_event(runtime, "帮助"))
    runtime.inbox.process_pending()
    for _ in range(3):
        runtime.dispatcher.run_once()
        runtime.dispatcher.run_once()  # not yet due again: nothing is sent twice
        runtime.clock.advance(timedelta(minutes=1))
    runtime.dispatcher.flush()
    assert len(platform.received) == 1
    assert platform.received[0]["to"] == "lilei"
    with Session(runtime.engine) as session:
        row = session.exec(select(Outbox)).one()
    assert (row.status, row.attempts, row.last_error, row.platform_ref) == ("sent", 3, None, "ref-1")


def test_message_is_given_up_after_the_attempt_limit_and_counted(runtime):
    platform = FlakyPlatform(failures=100)
    runtime.channels["local"] = platform
    runtime.inbox.ingest(text_event(runtime, "帮助"))
    runtime.inbox.process_pending()
    for _ in range(12):
        runtime.dispatcher.run_once()
        runtime.clock.advance(timedelta(hours=2))
    with Session(runtime.engine) as session:
        row = session.exec(select(Outbox)).one()
    assert row.status == "failed" and row.attempts == runtime.dispatcher.max_attempts
    assert "HTTP 500" in row.last_error
    assert runtime.metrics.outbox_failed.labels("local")._value.get() == 1


def test_unknown_sender_gets_one_polite_reply_and_admins_an_alert(runtime):
    for n in range(3):
        runtime.inbox.ingest(text_event(runtime, "你好", msg_id=f"u{n}", sender="stranger"))
    runtime.work_once()
    [reply] = sent_to(runtime, "stranger") or [None]
    with Session(runtime.engine) as session:
        rows = session.exec(select(Outbox).order_by(Outbox.id)).all()
    polite = [r for r in rows if r.platform_user == "stranger"]
    assert len(polite) == 1 and "还不是「留痕」的注册用户" in polite[0].payload["text"]
    admin = [r for r in rows if r.user_id == "boss"]
    assert len(admin) == 1 and "stranger" in admin[0].payload["text"]
    assert reply is None or reply.user_id == "stranger"


def test_handler_crash_is_retried_then_answered_with_an_apology(runtime):
    from bot.events import on_command
    from bot.router import Router

    def broken(event, ctx):
        raise RuntimeError("boom")

    runtime.inbox.router = Router([on_command("坏了", broken, help="x")])
    runtime.inbox.ingest(text_event(runtime, "坏了"))
    for _ in range(5):
        runtime.work_once()
    with Session(runtime.engine) as session:
        row = session.exec(select(Message)).one()
    assert row.attempts == 3 and "boom" in row.last_error and row.processed_at is not None
    [reply] = sent_to(runtime, "lilei")
    assert "出错" in reply.payload["text"]


def test_plain_text_outside_a_command_gets_a_hint_in_private_chat_only(runtime):
    runtime.inbox.ingest(text_event(runtime, "今天天气不错"))
    runtime.inbox.ingest(text_event(runtime, "群里闲聊", msg_id="g1", chat="group-1"))
    runtime.work_once()
    [hint] = sent_to(runtime, "lilei")
    assert hint.payload["text"] == "没听懂「今天天气不错」。发送「帮助」查看可用命令。"


def test_a_send_cut_short_by_a_crash_is_retried_by_the_running_worker(runtime, monkeypatch):
    """A row a killed process left in `sending` goes out without waiting for another restart."""
    from bot import cards
    from bot import runtime as runtime_module
    from bot.cards import Reply

    monkeypatch.setattr(runtime_module, "RECOVER_EVERY_SECONDS", 0.05)
    runtime.start(with_scheduler=False)
    try:
        with Session(runtime.engine) as session:
            row_id = cards.queue(session, Reply.say("回款提醒", to_user="lilei"), dedupe_key="stuck",
                                 now=runtime.clock.now())
            session.flush()  # one transaction: the running worker must never see the row as pending
            row = session.get(Outbox, row_id)
            row.status, row.next_attempt_at = "sending", runtime.clock.now()  # claimed, then the process died
            session.add(row)
            session.commit()
        assert not sent_to(runtime, "lilei")
        runtime.clock.set(runtime.clock.now() + timedelta(minutes=6))
        wait_until(lambda: runtime.wake() or sent_to(runtime, "lilei"), 10, "the stuck reminder", interval=0.05)
    finally:
        runtime.stop()
    assert [m.payload["text"] for m in sent_to(runtime, "lilei")] == ["回款提醒"]


def test_health_says_starting_until_the_worker_has_loaded_jieba_then_running(runtime, monkeypatch):
    import threading

    from bot import runtime as runtime_module

    loading = threading.Event()
    monkeypatch.setattr(runtime_module.nlp, "init", loading.wait)  # hold the worker inside its jieba load
    assert runtime.health()["worker"] == "stopped"
    runtime.start(with_scheduler=False)
    try:
        assert runtime.health()["worker"] == "starting"
        loading.set()
        wait_until(lambda: runtime.health()["worker"] != "starting", 10, "the worker to finish loading")
        assert runtime.health()["worker"] == "running"
    finally:
        runtime.stop()
    assert runtime.health()["worker"] == "stopped"
