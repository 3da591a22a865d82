"""日报速记 end to end through the simulator: draft, corrections, confirm, todos and their reminders, bad input."""

import json
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.cli import main
from scheduler import reports as sweeps
from store.db import session_scope
from store.models import Contact, DailyReport, Dialog, Opportunity, Outbox, SimMessage, StageChange, Todo
from tests.conftest import T0, TZ
from tests.conversation import seed_customer, send_event

DAY = timedelta(days=1)
HUADONG = "华东医疗器械有限公司"


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def seed_huadong(engine, *, advanced_today: bool) -> int:
    """李雷's customer in 方案演示, with 王总 on record as CTO; 华北能源 belongs to another team."""
    with Session(engine) as session:
        opp = seed_customer(session, HUADONG, aliases=["华东医疗"], stage="方案演示", updated=T0 - timedelta(hours=2))
        session.add(Contact(customer_id=opp.customer_id, name="王总", title="CTO"))
        if advanced_today:
            session.add(StageChange(opportunity_id=opp.id, from_stage="需求确认", to_stage="方案演示",
                                    at=T0 - timedelta(hours=2), by_user_id="lilei"))
        seed_customer(session, "华北能源集团", owner="hanmeimei", updated=T0)
        session.commit()
        return opp.customer_id


@pytest.fixture
def huadong(runtime) -> int:
    return seed_huadong(runtime.engine, advanced_today=True)


@pytest.fixture
def quiet_huadong(runtime) -> int:
    """The same customer with no stage change today: only messages can fill the day."""
    return seed_huadong(runtime.engine, advanced_today=False)


def send(client, text, user="lilei"):
    return [m for m in client.post("/sim/api/send", json={"user": user, "text": text}).json()["messages"]
            if m["direction"] == "out"]


def tap(client, message, label, user="lilei"):
    """Clicks a button of a delivered card (passing the card's ref, so updates land on it)."""
    [key] = [b["key"] for b in message["payload"]["card"]["buttons"] if b["label"] == label]
    return [m for m in client.post("/sim/api/click", json={"user": user, "key": key, "card_ref": str(message["id"])})
            .json()["messages"] if m["direction"] == "out"]


def cards(messages):
    return [m for m in messages if "card" in m["payload"]]


def fields(message):
    return dict(message["payload"]["card"]["fields"])


DAY_OF_MESSAGES = [
    "华东医疗王总说价格有点高，需要审批，竞品销售易也在报价",
    "明天给华东医疗安排方案演示",
    "周五前给华东医疗发报价",
    "华东医疗的王总(CIO)负责这个项目",
    "华北能源集团那边也在谈",  # not 李雷's to see: no customer
]


def test_quick_note_drafts_the_day_field_by_field(runtime, client, huadong):
    runtime.clock.set(T0 - DAY)
    send(client, "昨天的华东医疗消息：下周一前寄合同")  # yesterday: not today's report
    runtime.clock.set(T0)
    for text in DAY_OF_MESSAGES:
        send(client, text)
    send(client, "华东医疗说预算不够", user="hanmeimei")  # someone else's day
    by_menu = cards(client.post("/sim/api/menu", json={"user": "lilei", "key": "日报速记"}).json()["messages"])[-1]
    by_text = cards(send(client, "日报速记"))[-1]
    assert by_menu["payload"]["card"]["fields"] == by_text["payload"]["card"]["fields"]
    card = by_text["payload"]["card"]
    assert card["title"] == "📝 日报草稿 · 12-01"
    assert fields(by_text) == {
        "客户": f"1.{HUADONG}",
        "诉求": "1.报价  2.方案演示",  # 审批 was said as feedback (需要审批), not asked for
        "反馈": "1.价格高「价格有点高」（负面）  2.需要审批（负面）",
        "阶段推进": f"1.{HUADONG}：需求确认→方案演示",
        "竞品": "1.销售易",
        "决策链": f"1.王总（CIO，{HUADONG}）",
    }
    assert card["lines"] == ["待办：", f"1. 给华东医疗安排方案演示（12-02 · {HUADONG}）",
                             f"2. 给华东医疗发报价（12-04 · {HUADONG}）"]
    assert [b["label"] for b in card["buttons"]] == ["确认提交", "修改", "补充一句"]
    with Session(runtime.engine) as session:
        dialog = session.exec(select(Dialog).where(Dialog.user_id == "lilei")).one()
    assert dialog.flow == "reports" and dialog.data["draft"]["competitors"] == ["销售易"]  # kept in the table


def test_correct_append_confirm_files_report_todos_and_asks_before_overwriting_a_title(runtime, client, huadong):
    for text in DAY_OF_MESSAGES:
        send(client, text)
    draft = cards(send(client, "日报速记"))[-1]
    asked = cards(tap(client, draft, "修改"))[-1]
    assert asked["payload"]["card"]["title"] == "✏️ 要改什么？"
    draft = cards(send(client, "待办2改成下周一前发报价"))[-1]
    assert draft["payload"]["card"]["lines"][2] == f"2. 发报价（12-07 · {HUADONG}）"
    refused = send(client, "删除待办9")
    assert refused[0]["payload"]["text"] == "草稿里没有待办9。"
    draft = cards(send(client, "删除竞品1"))[-1]  # typed straight at the open draft
    assert fields(draft)["竞品"] == "—"
    draft = cards(send(client, "客户很看重数据安全"))[-1]  # not a correction: a note
    assert fields(draft)["备注"] == "1.客户很看重数据安全"
    tap(client, draft, "补充一句")
    draft = cards(send(client, "下周三前约华东医疗的李主任做POC"))[-1]
    assert draft["payload"]["card"]["lines"][3] == f"3. 约华东医疗的李主任做POC（12-09 · {HUADONG}）"
    assert fields(draft)["决策链"] == f"1.王总（CIO，{HUADONG}）  2.李主任（主任，{HUADONG}）"

    filed = tap(client, draft, "确认提交")
    assert filed[0]["payload"]["text"] == (
        "✅ 日报已提交（2026-12-01）：价值分 77（决策链更新、方案进展、有效待办、阶段推进、客户反馈）。3 条待办已设到期提醒。")
    [ask] = cards(filed)
    assert ask["payload"]["card"]["lines"] == [f"「{HUADONG}」的 王总 现记为「CTO」，日报里写的是「CIO」。"]
    with Session(runtime.engine) as session:
        assert session.exec(select(Contact).where(Contact.name == "王总")).one().title == "CTO"  # asked, not overwritten
        li = session.exec(select(Contact).where(Contact.name == "李主任")).one()
        chain = session.exec(select(Opportunity).where(Opportunity.customer_id == huadong)).one().decision_chain
    assert (li.customer_id, li.title) == (huadong, "主任")
    assert {"name": "李主任", "title": "主任", "role": None} in chain
    tap(client, ask, "更新")
    with Session(runtime.engine) as session:
        assert session.exec(select(Contact).where(Contact.name == "王总")).one().title == "CIO"
        report = session.exec(select(DailyReport)).one()
        todos = session.exec(select(Todo).order_by(Todo.id)).all()
    assert (report.rep_id, report.day, report.source, report.customers) == ("lilei", date(2026, 12, 1), "quick_note",
                                                                           [HUADONG])
    assert report.body["quick_note"]["notes"] == ["客户很看重数据安全", "下周三前约华东医疗的李主任做POC"]
    assert [(t.text, t.due_on, t.customer_id, t.report_id) for t in todos] == [
        ("给华东医疗安排方案演示", date(2026, 12, 2), huadong, report.id),
        ("发报价", date(2026, 12, 7), huadong, report.id),
        ("约华东医疗的李主任做POC", date(2026, 12, 9), huadong, report.id)]

    # later that day: the draft starts from the filed one (corrections kept) plus what arrived since
    send(client, "月底前给华东医疗做培训")
    again = cards(send(client, "日报速记"))[-1]
    assert again["payload"]["card"]["lines"][1:] == [
        f"1. 给华东医疗安排方案演示（12-02 · {HUADONG}）", f"2. 发报价（12-07 · {HUADONG}）",
        f"3. 约华东医疗的李主任做POC（12-09 · {HUADONG}）", f"4. 给华东医疗做培训（12-31 · {HUADONG}）"]
    tap(client, again, "确认提交")
    with Session(runtime.engine) as session:
        assert len(session.exec(select(DailyReport)).all()) == 1  # updated, not doubled
        todos = session.exec(select(Todo).order_by(Todo.id)).all()
    assert [t.text for t in todos] == ["给华东医疗安排方案演示", "发报价", "约华东医疗的李主任做POC", "给华东医疗做培训"]


def test_todo_is_reminded_on_its_due_date_once(runtime, client, huadong):
    send(client, "明天给华东医疗安排方案演示")
    tap(client, cards(send(client, "日报速记"))[-1], "确认提交")
    with session_scope(runtime.engine) as session:
        assert sweeps.todo_reminders(session, T0 + timedelta(hours=2), runtime.rules, TZ) == 0  # not due yet
    due_morning = T0 + DAY - timedelta(hours=1)  # 2026-12-02 09:00
    with session_scope(runtime.engine) as session:
        assert sweeps.todo_reminders(session, due_morning, runtime.rules, TZ) == 1
        assert sweeps.todo_reminders(session, due_morning + timedelta(hours=5), runtime.rules, TZ) == 0
    runtime.clock.set(due_morning)
    runtime.dispatcher.flush()
    with Session(runtime.engine) as session:
        [row] = session.exec(select(Outbox).where(Outbox.dedupe_key.like("todo_due:%"))).all()
        shown = session.exec(select(SimMessage).where(SimMessage.kind == "card")
                             .order_by(SimMessage.id.desc())).first()
    assert row.user_id == "lilei" and row.payload["card"]["lines"] == ["给华东医疗安排方案演示"]
    done = tap(client, {"id": shown.id, "payload": shown.payload}, "已完成")
    assert done[-1]["payload"]["text"] == "✅ 已完成：给华东医疗安排方案演示"
    with Session(runtime.engine) as session:
        assert session.exec(select(Todo)).one().done_at is not None


def test_empty_day_gets_a_friendly_card_with_a_hint(runtime, client, quiet_huadong):
    [reply] = send(client, "日报速记")
    card = reply["payload"]["card"]
    assert card["title"] == "📭 今天还没有记录"
    assert "产品链接、会议和方案文件都会自动记下" in "".join(card["lines"]) and card["buttons"] == []


@pytest.mark.parametrize("text", [
    "😀🎉👍" * 20,
    "Meeting with 华东医疗 tomorrow: 他们 want a POC, демо next week, 데모 준비 ✅",
    ("华东医疗王总说价格有点高，周五前给华东医疗发报价。" * 800)[:20_000],
], ids=["emoji_only", "mixed_scripts", "paste_20000_chars"])
def test_bad_input_never_breaks_the_quick_note(runtime, client, quiet_huadong, text):
    send(client, text)
    [reply] = send(client, "日报速记")
    card = reply["payload"]["card"]
    assert "出错" not in json.dumps(reply, ensure_ascii=False)
    if text.startswith("😀"):
        assert card["title"] == "📭 今天还没有记录"
    else:
        assert card["title"] == "📝 日报草稿 · 12-01" and fields(reply)["客户"] == f"1.{HUADONG}"
    if len(text) == 20_000:
        assert card["note"].startswith("部分超长内容只整理了前 5000 字。")


def test_export_reports_keeps_the_contract_and_adds_the_progress_metric(runtime, client, huadong, db_url, tmp_path,
                                                                        capsys):
    send(client, "明天给华东医疗安排方案演示")
    tap(client, cards(send(client, "日报速记"))[-1], "确认提交")
    with Session(runtime.engine) as session:
        opp = session.exec(select(Opportunity).where(Opportunity.customer_id == huadong)).one()
        session.add(StageChange(opportunity_id=opp.id, from_stage="方案演示", to_stage="商务谈判", at=T0 + 3 * DAY))
        session.commit()
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {json.dumps(db_url)}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["export", "reports", "--config", str(config)]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert {k: row[k] for k in ("rep", "date", "customers", "keywords", "value_score", "value_tags", "source")} == {
        "rep": "lilei", "date": "2026-12-01", "customers": [HUADONG], "keywords": ["方案演示"], "value_score": 32,
        "value_tags": ["方案进展", "有效待办", "阶段推进"], "source": "quick_note"}
    assert row["todos"] == [{"text": "给华东医疗安排方案演示", "due": "2026-12-02", "customer": HUADONG}]
    assert (row["team"], row["has_valid_todos"], row["advanced_within_days"], row["progress_days"]) == (
        "华东一组", True, True, 7)
    assert row["rep_progress"] == row["team_progress"] == {
        "with_todos": {"reports": 1, "advanced": 1, "rate": 1.0},
        "without_todos": {"reports": 0, "advanced": 0, "rate": None}, "lift": None}


def test_quick_note_asked_in_a_group_is_answered_to_the_rep_alone(runtime, client, huadong):
    send(client, "周五前给华东医疗发报价")
    send_event(runtime, "text", text="日报速记", chat="wr-group-1")
    with Session(runtime.engine) as session:
        [row] = session.exec(select(Outbox).where(Outbox.kind == "card")).all()
    assert (row.user_id, row.chat_id, row.payload["card"]["title"]) == ("lilei", None, "📝 日报草稿 · 12-01")
