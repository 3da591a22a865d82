"""拜访 <客户>: the 《客户攻坚清单》 from history, ticking items, and 完成拜访 filing the structured report."""

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from store.models import Checklist, DailyReport, SimMessage, Todo
from tests.conftest import T0
from tests.test_reports import HUADONG, cards, seed_huadong, send, tap

DAY = timedelta(days=1)


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


@pytest.fixture
def history(runtime, client) -> int:
    """Yesterday's confirmed quick note about 华东医疗: price pushback, a competitor, a demand and a todo."""
    customer = seed_huadong(runtime.engine, advanced_today=False)
    runtime.clock.set(T0 - DAY)
    send(client, "华东医疗王总说价格有点高，竞品销售易也在报价，他们想看接口对接")
    send(client, "明天给华东医疗发报价")
    tap(client, cards(send(client, "日报速记"))[-1], "确认提交")
    runtime.clock.set(T0)
    return customer


def tick(client, card, n):
    """Ticks item n (1-based) by its button, whatever the label is cut to."""
    label = card["payload"]["card"]["buttons"][n - 1]["label"]
    assert label.startswith(("☐ ", "☑ ")) and label[2:].startswith(f"{n}. ")
    return tap(client, card, label)


def shown(runtime, message_id):
    """The card as the rep now sees it (updates rewrite the delivered row)."""
    with Session(runtime.engine) as session:
        row = session.get(SimMessage, message_id)
        return {"id": row.id, "payload": row.payload}


def test_checklist_is_built_from_history_with_a_goal_for_the_stage(runtime, client, history):
    [card] = cards(send(client, "拜访 华东医疗"))
    assert card["payload"]["card"]["title"] == f"📋《客户攻坚清单》· {HUADONG}"
    assert card["payload"]["card"]["lines"] == [
        "☐ 痛点：报价", "☐ 痛点：接口对接", "☐ 待解决反馈：价格高", "☐ 竞品动作：销售易",
        "☐ 上次待办：给华东医疗发报价（12-01）", "☐ 本次目标：演示打中痛点，拿到试用或 POC 的承诺"]
    assert [b["label"] for b in card["payload"]["card"]["buttons"]][-1] == "完成拜访"


def test_ticked_checklist_becomes_the_days_structured_report(runtime, client, history):
    [card] = cards(send(client, "拜访 华东医疗"))
    tick(client, card, 3)
    card = shown(runtime, card["id"])
    tick(client, card, 5)
    card = shown(runtime, card["id"])
    assert card["payload"]["card"]["lines"][2] == "☑ 待解决反馈：价格高"
    done = tap(client, card, "完成拜访")
    assert done[-1]["payload"]["text"] == "已记入今天的日报：完成 2/6 项，价值分 3。"
    with Session(runtime.engine) as session:
        report = session.exec(select(DailyReport).where(DailyReport.day == date(2026, 12, 1))).one()
        checklist = session.exec(select(Checklist)).one()
        todo = session.exec(select(Todo)).one()
    assert (report.source, report.customers, report.value_tags) == ("checklist", [HUADONG], ["客户反馈"])
    assert report.body["checklists"][0]["done"] == ["待解决反馈：价格高", "上次待办：给华东医疗发报价（12-01）"]
    assert checklist.completed_at is not None and todo.done_at is not None  # the ticked old todo is done
    assert tap(client, card, "完成拜访")[-1]["payload"]["text"] == "这张卡片已经处理过了。"


def test_checklist_merges_into_a_quick_note_filed_the_same_day(runtime, client, history):
    send(client, "周五前给华东医疗发合同")
    tap(client, cards(send(client, "日报速记"))[-1], "确认提交")
    [card] = cards(send(client, "拜访 华东医疗"))
    tick(client, card, 4)
    tap(client, shown(runtime, card["id"]), "完成拜访")
    with Session(runtime.engine) as session:
        report = session.exec(select(DailyReport).where(DailyReport.day == date(2026, 12, 1))).one()
    assert report.source == "quick_note" and report.body["quick_note"]["todos"][0]["text"] == "给华东医疗发合同"
    assert report.body["checklists"][0]["competitors"] == ["销售易"]
    assert report.value_tags == ["竞品动态", "有效待办"]


def test_visit_of_an_unknown_customer_says_so(runtime, client, history):
    for name in ("火星科技", "华北能源集团"):  # another team's customer is answered as if it did not exist
        card = send(client, f"拜访 {name}")[-1]["payload"]["card"]
        assert (card["title"], [b["label"] for b in card["buttons"]]) == (f"没有找到「{name}」", ["新建线索", "都不是"])
