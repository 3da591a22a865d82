import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.cli import main
from store.models import Customer, Opportunity, Outbox, Touch
from tests.conftest import T0
from tests.conversation import (
    click,
    inbox,
    labels,
    last_card,
    say,
    seed_bound_customer,
    seed_customer,
    send_event,
    texts,
)

HD = "华东医疗器械有限公司"
ROOM = "room-huadong"
ACK_WAIT = timedelta(seconds=11)


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


@pytest.fixture
def huadong(engine) -> int:
    return seed_bound_customer(engine, "local", ROOM).id


def all_touches(engine) -> list[Touch]:
    with Session(engine) as session:
        return list(session.exec(select(Touch).order_by(Touch.id)).all())


def customer_of(engine, touch: Touch) -> str | None:
    with Session(engine) as session:
        return session.get(Customer, touch.customer_id).name if touch.customer_id else None


def acks(client, runtime) -> list[str]:
    runtime.clock.advance(ACK_WAIT)
    runtime.work_once()
    return [t for t in texts(inbox(client)) if t.startswith("已记录有效触达")]


def test_pdf_in_a_bound_group_links_by_chat_resets_the_clock_and_is_acked(client, runtime, engine, huadong):
    send_event(runtime, "file", filename="华北方案.pdf", chat=ROOM)
    [touch] = all_touches(engine)
    assert (touch.kind, touch.valid, touch.source, touch.filename) == ("pdf", True, "local", "华北方案.pdf")
    assert customer_of(engine, touch) == HD and touch.evidence["linked_by"] == "chat"
    assert touch.opportunity_id == huadong
    with Session(engine) as session:
        assert session.get(Opportunity, huadong).last_update_at == T0
    assert acks(client, runtime) == [f"已记录有效触达：{HD} · 方案PDF"]


def test_product_link_naming_a_customer_links_by_mention_over_context(client, runtime, engine, huadong):
    with Session(engine) as session:
        seed_customer(session, "精工机床", industry="制造业", updated=T0 - timedelta(hours=1))
    assert say(client, "给华东医疗发了产品手册 https://liuhen.example.com/p/1") == []
    [touch] = all_touches(engine)
    assert (touch.kind, touch.valid, touch.url) == ("product_link", True, "https://liuhen.example.com/p/1")
    assert customer_of(engine, touch) == HD and touch.evidence["linked_by"] == "mention"


def test_file_with_no_chat_or_mention_links_to_the_customer_worked_on_recently(client, runtime, engine, huadong):
    with Session(engine) as session:
        seed_customer(session, "精工机床", industry="制造业", updated=T0 - timedelta(hours=3))
    send_event(runtime, "file", filename="方案v2.pdf")
    [touch] = all_touches(engine)
    assert customer_of(engine, touch) == "精工机床" and touch.evidence["linked_by"] == "context"
    assert acks(client, runtime) == ["已记录有效触达：精工机床 · 方案PDF"]


def test_context_expires_after_the_configured_hours_and_the_bot_asks(client, runtime, engine, huadong):
    with Session(engine) as session:
        seed_customer(session, "精工机床", industry="制造业", updated=T0 - timedelta(hours=5))
    replies = say(client, "会议 https://meeting.tencent.com/dm/abc")
    card = last_card(replies)
    assert card["title"] == "这条记录关联哪个客户？"
    assert card["lines"] == ["视频会议：https://meeting.tencent.com/dm/abc"]
    assert labels(card) == ["精工机床", HD, "都不是"]
    assert texts(click(client, card, HD)) == [f"已记录有效触达：{HD} · 视频会议"]
    [touch] = all_touches(engine)
    assert (touch.kind, customer_of(engine, touch), touch.opportunity_id) == ("meeting", HD, huadong)
    with Session(engine) as session:
        assert session.get(Opportunity, huadong).last_update_at == T0
    assert acks(client, runtime) == [f"已记录有效触达：{HD} · 视频会议"]  # the answer only, no second ack


def test_none_of_these_leaves_the_touch_unlinked(client, runtime, engine, huadong):
    send_event(runtime, "meeting", text="方案沟通会")
    card = [p["card"] for p in inbox(client) if "card" in p][-1]
    assert texts(click(client, card, "都不是")) == ["好的，这条记录暂不关联客户。"]
    [touch] = all_touches(engine)
    assert (touch.kind, touch.valid, touch.customer_id) == ("meeting", True, None)


def test_other_files_and_plain_messages_are_kept_but_not_valid_and_not_acked(client, runtime, engine, huadong):
    send_event(runtime, "file", filename="报价.xlsx", chat=ROOM)
    send_event(runtime, "text", text="好的，下周见", chat=ROOM)
    send_event(runtime, "image", media="img-1", chat=ROOM)
    assert [(t.kind, t.valid) for t in all_touches(engine)] == [("file", False), ("message", False), ("file", False)]
    assert {customer_of(engine, t) for t in all_touches(engine)} == {HD}
    assert acks(client, runtime) == []


def test_plain_text_to_the_bot_is_noted_for_a_named_customer_else_not_understood(client, engine, huadong):
    assert texts(say(client, "华东医疗说预算要下周批")) == [f"已作为备注记入「{HD}」。"]
    assert texts(say(client, "你好")) == ["没听懂「你好」。发送「帮助」查看可用命令。"]
    assert [(t.kind, t.valid) for t in all_touches(engine)] == [("message", False)]


def test_burst_of_ten_pdfs_gives_one_ack_and_a_later_one_a_new_ack(client, runtime, engine, huadong):
    for n in range(10):
        send_event(runtime, "file", filename=f"方案{n}.pdf", chat=ROOM)
    assert len(all_touches(engine)) == 10
    assert acks(client, runtime) == [f"已记录有效触达：{HD} · 方案PDF×10"]
    send_event(runtime, "text", text="https://liuhen.example.com/demo", chat=ROOM)
    assert acks(client, runtime)[1:] == [f"已记录有效触达：{HD} · 产品链接"]
    with Session(engine) as session:
        keys = [r.dedupe_key for r in session.exec(select(Outbox)).all() if r.dedupe_key.startswith("touch_ack:")]
        assert len(keys) == 2


def test_the_same_file_sent_twice_in_a_minute_counts_once(client, runtime, engine, huadong):
    send_event(runtime, "file", filename="方案.pdf", chat=ROOM)
    send_event(runtime, "file", filename="方案.pdf", chat=ROOM, received_at=T0 + timedelta(seconds=40))
    assert len(all_touches(engine)) == 1


def test_another_teams_customer_is_neither_linked_nor_offered(client, runtime, engine, huadong):
    say(client, "华东医疗 https://liuhen.example.com/p/2", user="hanmeimei")
    [touch] = all_touches(engine)
    assert touch.customer_id is None
    card = last_card(inbox(client, "hanmeimei"))
    assert labels(card) == ["都不是"]


def test_export_touches_shows_the_audit_fields(client, runtime, engine, huadong, db_url, tmp_path, capsys):
    send_event(runtime, "file", filename="方案.pdf", chat=ROOM)
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {json.dumps(db_url)}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["export", "touches", "--config", str(config)]) == 0
    [row] = json.loads(capsys.readouterr().out)
    [touch] = all_touches(engine)
    assert row == {"id": touch.id, "customer": HD, "rep": "lilei", "kind": "pdf", "valid": True,
                   "at": "2026-12-01T10:00:00+08:00", "source": "local", "source_msg_id": touch.source_msg_id,
                   "url": None, "filename": "方案.pdf", "transcript": None, "audio": None}
    assert main(["export", "touches", "--format", "csv", "--config", str(config)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header == "id,customer,rep,kind,valid,at,source,source_msg_id,url,filename,transcript,audio"


def test_a_tencent_meeting_number_pasted_in_the_customer_group_is_a_valid_touch(client, runtime, engine, huadong):
    send_event(runtime, "text", text="#腾讯会议：876-543-210 下午三点见", chat=ROOM)
    [touch] = all_touches(engine)
    assert (touch.kind, touch.valid, customer_of(engine, touch)) == ("meeting", True, HD)
    assert acks(client, runtime) == ["已记录有效触达：华东医疗器械有限公司 · 视频会议"]
