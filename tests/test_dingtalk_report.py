"""A report confirmed on DingTalk is also filed as a DingTalk 日志 to the rep's manager, through the outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from store.models import Outbox
from tests.conftest import T0
from tests.conversation import seed_customer
from tests.fakes.dingtalk_gateway import FakeDingTalk
from tests.fakes.wecom_server import DEFAULT_USERS, FakeWeCom
from tests.test_channels_parity import DingTalk, Platform, WeCom
from tests.wecom_helpers import sender_for, wecom_settings

LILEI, ZHANGWEI = "0123", "0101"  # DingTalk userids of the rep and his manager (tests/data/org.yaml)
CREATE = "/topapi/report/create"
TEMPLATE = "/topapi/report/template/getbyname"
HUADONG = "华东医疗器械有限公司"
DAY = ["华东医疗王总说价格有点高，竞品销售易也在报价", "周五前给华东医疗发报价"]


@pytest.fixture
def fake() -> Iterator[FakeDingTalk]:
    with FakeDingTalk() as fake:
        yield fake


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    hanmeimei = {"userid": "hanmeimei", "name": "韩梅梅", "department": [2], "position": "销售代表"}
    with FakeWeCom(users=[*DEFAULT_USERS, hanmeimei]) as wecom:
        yield wecom


@pytest.fixture
def settings(db_url, wecom, fake):
    """A company on both platforms: 韩梅梅 is on WeCom only, 李雷 on both."""
    settings = wecom_settings(db_url, wecom)
    settings.dingtalk = fake.liuhen_config()
    return settings


@pytest.fixture
def dingtalk(runtime, fake) -> Iterator[DingTalk]:
    """The Stream is live; the test runs the inbox and outbox workers itself."""
    with Session(runtime.engine) as session:
        seed_customer(session, HUADONG, aliases=["华东医疗"], stage="方案演示", updated=T0 - timedelta(hours=2))
        seed_customer(session, "华北能源集团", owner="hanmeimei", aliases=["华北能源"], updated=T0)
    runtime.dingtalk.listen(runtime.inbox.ingest_many, runtime.wake)
    fake.wait_for_connection()
    yield DingTalk(fake)
    runtime.dingtalk.close()


def confirm_day(runtime, platform: Platform, user: str, messages: list[str]) -> None:
    """The rep's day in chat, then 日报速记 and 确认提交 on the draft card (its first button)."""
    for text in [*messages, "日报速记"]:
        platform.send(user, text)
        runtime.work_once()
    draft = [card for card in platform.cards(user) if card.title.startswith("📝 日报草稿")][-1]
    platform.click(user, draft, draft.tokens[0])
    runtime.work_once()


def filings(runtime) -> list[Outbox]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(Outbox).where(Outbox.kind == "report_log")).all())


def test_a_report_confirmed_on_dingtalk_is_filed_as_a_log_to_the_manager(runtime, fake, dingtalk):
    confirm_day(runtime, dingtalk, LILEI, DAY)
    assert any(text.startswith("✅ 日报已提交（2026-12-01）") for text in dingtalk.texts(LILEI))
    [template_call] = fake.calls(TEMPLATE)
    assert template_call.body == {"userid": LILEI, "template_name": "日报"}
    [filed] = fake.reports
    assert (filed["template_id"], filed["userid"], filed["to_userids"], filed["dd_from"], filed["to_chat"]) == (
        "tmpl-daily", LILEI, [ZHANGWEI], "liuhen", False)
    assert [(c["key"], c["sort"], c["type"], c["content_type"]) for c in filed["contents"]] == [
        ("今日完成工作", 0, 1, "markdown"), ("未完成工作", 1, 1, "markdown")]
    done, open_todos = (c["content"].split("\n\n") for c in filed["contents"])
    assert done == [f"**客户**：{HUADONG}", "**诉求**：报价", "**反馈**：价格高「价格有点高」（负面）",
                    f"**决策链**：王总（—，{HUADONG}）", "**竞品**：销售易", "**价值分**：23（竞品动态、有效待办、客户反馈）"]
    assert open_todos == ["待办：", f"1. 给华东医疗发报价（12-04 · {HUADONG}）"]
    [row] = filings(runtime)
    assert (row.status, row.attempts, row.platform_ref) == ("sent", 1, fake.calls(CREATE)[0].response["result"])


def test_a_5xx_from_dingtalk_is_retried_later_and_the_log_is_filed_once(runtime, fake, dingtalk):
    fake.fail_next(CREATE, status=502)
    confirm_day(runtime, dingtalk, LILEI, DAY)
    [row] = filings(runtime)
    assert fake.reports == [] and (row.status, row.attempts) == ("pending", 1)
    assert "HTTP 502" in row.last_error
    runtime.dispatcher.flush()
    assert fake.reports == []  # backing off, not hammering
    for _ in range(3):
        runtime.clock.advance(timedelta(minutes=1))
        runtime.dispatcher.flush()
    assert len(fake.reports) == 1 and [c.status for c in fake.calls(CREATE)] == [502, 200]
    [row] = filings(runtime)
    assert (row.status, row.attempts) == ("sent", 2)


def test_confirming_again_while_the_filing_waits_files_the_newer_report_once(runtime, fake, dingtalk):
    fake.fail_next(CREATE, status=503)
    confirm_day(runtime, dingtalk, LILEI, DAY)
    confirm_day(runtime, dingtalk, LILEI, ["华东医疗王总同意下周三做POC"])  # while the first filing backs off
    assert len(filings(runtime)) == 1
    runtime.clock.advance(timedelta(minutes=1))
    runtime.dispatcher.flush()
    [filed] = fake.reports
    assert "POC" in filed["contents"][0]["content"] and "销售易" in filed["contents"][0]["content"]


def test_a_rep_without_dingtalk_files_nothing_while_a_dingtalk_rep_does(runtime, fake, wecom, dingtalk):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        on_wecom = WeCom(wecom, sender_for(wecom), client, int(runtime.clock.now().timestamp()))
        confirm_day(runtime, on_wecom, "hanmeimei", ["华北能源王总说价格有点高", "周五前给华北能源发报价"])
    assert any(text.startswith("✅ 日报已提交（2026-12-01）") for text in on_wecom.texts("hanmeimei"))
    assert fake.calls(TEMPLATE) == [] and fake.reports == [] and filings(runtime) == []
    confirm_day(runtime, dingtalk, LILEI, DAY)  # the same deployment files a DingTalk rep's report
    assert [r["userid"] for r in fake.reports] == [LILEI]


def test_a_bad_dingtalk_log_rule_is_refused_with_file_and_key(tmp_path):
    from rules.loader import RulesError, load_rules

    path = tmp_path / "reports.yaml"
    path.write_text("dingtalk_log:\n  enabled: true\n  template: 日报\n  fields:\n    今日完成工作: [customers, 心得]\n",
                    encoding="utf-8")
    with pytest.raises(RulesError) as refused:
        load_rules(tmp_path)
    assert refused.value.problems == [f"{path}:dingtalk_log.fields: 未知的日报内容「心得」（可用：customers、keywords、feedback、"
                                      "stage_changes、competitors、contacts、notes、amounts、todos、value）"]
    path.write_text("dingtalk_log:\n  enabled: true\n", encoding="utf-8")
    with pytest.raises(RulesError) as refused:
        load_rules(tmp_path)
    assert refused.value.problems == [f"{path}:dingtalk_log: 已启用，但 fields 没有把任何日报内容放进模板字段"]
