from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from store.models import AuditLog, Opportunity, StageChange
from tests.conftest import T0
from tests.conversation import click, labels, last_card, say, seed_customer, texts

EARLIER = T0 - timedelta(days=3)


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


@pytest.fixture
def opportunity_id(engine) -> int:
    with Session(engine) as session:
        return seed_customer(session, "华东医疗器械有限公司", updated=EARLIER).id


def load(engine, opportunity_id) -> Opportunity:
    with Session(engine) as session:
        return session.get(Opportunity, opportunity_id)


def changes(engine) -> list[tuple[str | None, str, str | None]]:
    with Session(engine) as session:
        return [(c.from_stage, c.to_stage, c.by_user_id) for c in session.exec(select(StageChange)).all()]


def behave(client, behavior: str = "产品演示") -> list[str]:
    """Answers the behavior question every advance ends with; returns what the bot said."""
    return texts(say(client, behavior))


def test_advance_by_prefix_writes_a_stage_change_and_restarts_the_clock(client, engine, opportunity_id):
    assert last_card(say(client, "推进 华东医疗 到 方案演示"))["title"] == "「华东医疗器械有限公司」这次是哪类行为？"
    assert behave(client)[0] == "✅ 已推进「华东医疗器械有限公司」：线索 → 方案演示"
    opportunity = load(engine, opportunity_id)
    assert opportunity.stage == "方案演示"
    assert opportunity.stage_entered_at == opportunity.last_update_at == T0
    assert changes(engine) == [("线索", "方案演示", "lilei")]


def test_gated_field_is_asked_inline_then_the_advance_completes(client, engine, opportunity_id):
    card = last_card(say(client, "推进 华东医疗 到 商务谈判"))
    assert card["title"] == "推进到「商务谈判」· 商机金额"
    assert card["note"] == "进入「商务谈判」阶段前需补全此项，补全后自动推进。发送「取消」放弃。"
    assert load(engine, opportunity_id).stage == "线索"
    say(client, "120万")
    assert behave(client, "商务谈判")[0] == "✅ 已推进「华东医疗器械有限公司」：线索 → 商务谈判"
    opportunity = load(engine, opportunity_id)
    assert (opportunity.stage, opportunity.amount) == ("商务谈判", 1_200_000)


def test_contract_stage_asks_amount_then_close_date(client, engine, opportunity_id):
    assert last_card(say(client, "推进 华东医疗 到 合同签署"))["title"] == "推进到「合同签署」· 商机金额"
    assert last_card(say(client, "1.2亿"))["title"] == "推进到「合同签署」· 预计签约日期"
    replies = say(client, "改天吧")
    assert texts(replies) == ["没看懂日期「改天吧」，请输入如「2026-12-31」。"]
    say(client, "月底")
    said = behave(client, "合同法务推进")
    assert said[-1].startswith("「华东医疗器械有限公司」已进入「合同签署」。请回复付款节点")  # the payment countdown
    opportunity = load(engine, opportunity_id)
    assert (opportunity.stage, opportunity.amount, opportunity.expected_close) == (
        "合同签署", 120_000_000, date(2026, 12, 31))


def test_cancel_leaves_the_stage_unchanged(client, engine, opportunity_id):
    say(client, "推进 华东医疗 到 商务谈判")
    say(client, "取消")
    assert load(engine, opportunity_id).stage == "线索" and changes(engine) == []


def test_won_stage_closes_the_opportunity(client, engine, opportunity_id):
    say(client, "推进 华东医疗 到 赢单")
    behave(client, "回款跟进")
    opportunity = load(engine, opportunity_id)
    assert (opportunity.stage, opportunity.status, opportunity.closed_at) == ("赢单", "won", T0)
    assert texts(say(client, "推进 华东医疗 到 商务谈判")) == [
        "客户「华东医疗器械有限公司」还没有进行中的商机，请先发送「新线索 华东医疗器械有限公司」。"]


def test_unknown_stage_same_stage_and_bad_format_are_explained(client, opportunity_id):
    assert texts(say(client, "推进 华东医疗 到 月球")) == [
        "没有「月球」这个阶段。可选：线索、需求确认、方案演示、商务谈判、合同签署、赢单、输单"]
    assert texts(say(client, "推进 华东医疗 到 线索")) == ["「华东医疗器械有限公司」已经在「线索」阶段了。"]
    assert texts(say(client, "推进 华东医疗")) == ["请按「推进 <客户> 到 <阶段>」发送，如「推进 华东医疗 到 方案演示」。"]


def test_ambiguous_customer_is_asked_with_buttons(client, engine, opportunity_id):
    with Session(engine) as session:
        seed_customer(session, "华东医疗科技有限公司", updated=EARLIER)
    card = last_card(say(client, "推进 华东医疗 到 方案演示"))
    assert card["title"] == "您指的是哪个客户？"
    assert labels(card)[-1] == "都不是"
    assert sorted(labels(card)[:-1]) == ["华东医疗器械有限公司", "华东医疗科技有限公司"]
    assert last_card(click(client, card, "华东医疗器械有限公司"))["title"] == "「华东医疗器械有限公司」这次是哪类行为？"
    assert behave(client)[0] == "✅ 已推进「华东医疗器械有限公司」：线索 → 方案演示"


def test_another_teams_rep_cannot_advance(client, engine, opportunity_id):
    card = last_card(say(client, "推进 华东医疗 到 方案演示", user="hanmeimei"))
    assert (card["title"], labels(card)) == ("没有找到「华东医疗」", ["新建线索", "都不是"])
    assert changes(engine) == []


def test_saved_lead_card_button_advances_to_the_next_stage(client, engine):
    say(client, "新线索 精工机床 零售 预算50万 决策人李总CEO 需求阶段:需求调研")
    saved = last_card(say(client, "50家以下"))
    click(client, saved, "推进到「需求确认」")
    assert behave(client, "痛点深度访谈")[0] == "✅ 已推进「精工机床」：线索 → 需求确认"
    assert changes(engine) == [(None, "线索", "lilei"), ("线索", "需求确认", "lilei")]


def test_progress_update_resets_the_stage_clock_only(client, engine, opportunity_id, runtime):
    runtime.clock.advance(timedelta(hours=2))
    assert texts(say(client, "进展 华东医疗 客户确认下周演示")) == [
        "已记录「华东医疗器械有限公司」的进展，「线索」阶段停留计时已重置。"]
    opportunity = load(engine, opportunity_id)
    assert opportunity.last_update_at == T0 + timedelta(hours=2)
    assert opportunity.stage_entered_at == EARLIER and opportunity.stage == "线索"
    with Session(engine) as session:
        [audit] = session.exec(select(AuditLog)).all()
        assert (audit.action, audit.detail) == ("progress", {"note": "客户确认下周演示"})
    assert texts(say(client, "进展 华东医疗")) == ["请按「进展 <客户> <最新进展>」发送，如「进展 华东医疗 客户确认下周演示」。"]


def test_help_lists_the_lead_and_stage_commands(client):
    lines = last_card(say(client, "帮助"))["lines"]
    assert "· 推进 <客户> 到 <阶段> —— 推进商机阶段（缺的必填项会追问）" in lines
    assert "· 进展 <客户> <最新进展> —— 记录商机最新进展，重置阶段停留计时" in lines
    assert any(line.startswith("· 新线索 <客户>") for line in lines)



def test_a_typo_is_confirmed_with_a_button_not_guessed(client, engine, opportunity_id):
    card = last_card(say(client, "推进 华东医了器械 到 方案演示"))
    assert (card["title"], labels(card)) == ("您指的是哪个客户？", ["华东医疗器械有限公司", "都不是"])
    assert load(engine, opportunity_id).stage == "线索"


def test_advance_is_held_until_a_behavior_is_chosen_and_binds_its_points(client, engine, opportunity_id):
    from store.models import BehaviorLog

    card = last_card(say(client, "推进 华东医疗 到 方案演示"))
    assert labels(card) == ["定制化解决方案 +12", "产品演示 +6", "技术方案攻坚 +10", "其他行为…"]
    assert load(engine, opportunity_id).stage == "线索"  # held
    assert texts(say(client, "喝茶")) == ["没有「喝茶」这个行为。"]
    assert load(engine, opportunity_id).stage == "线索"
    said = texts(click(client, card, "定制化解决方案 +12"))
    assert said[0] == "✅ 已推进「华东医疗器械有限公司」：线索 → 方案演示"
    assert said[1].startswith("✅ 已记录行为：定制化解决方案 +12 分（方案设计）")
    with Session(engine) as session:
        [log] = session.exec(select(BehaviorLog)).all()
    assert (log.rep_id, log.opportunity_id, log.points) == ("lilei", opportunity_id, 12)


def test_with_the_behaviors_module_off_the_advance_asks_nothing(runtime, opportunity_id):
    from bot.config import load_settings
    from bot.runtime import Runtime
    from tests.conftest import DATA

    settings = load_settings(DATA / "config-test.yaml", environ={"LIUHEN__MODULES__BEHAVIORS": "false"},
                             overrides={"database": {"url": str(runtime.engine.url.render_as_string(False))}})
    plain = Runtime(settings, clock=runtime.clock, engine=runtime.engine)
    with TestClient(create_app(plain, start_workers=False)) as other:
        assert texts(say(other, "推进 华东医疗 到 方案演示")) == ["✅ 已推进「华东医疗器械有限公司」：线索 → 方案演示"]


def test_the_behavior_of_an_advance_can_be_typed_by_a_near_name_or_found_by_category(client, engine, opportunity_id):
    from store.models import BehaviorLog

    card = last_card(say(client, "推进 华东医疗 到 方案演示"))
    categories = last_card(click(client, card, "其他行为…"))
    assert labels(categories) == ["客户洞察", "方案设计", "关系推进", "生态协同", "商务推进"]
    assert load(engine, opportunity_id).stage == "线索"  # still asking
    said = texts(say(client, "痛点访谈"))
    assert said[0] == "✅ 已推进「华东医疗器械有限公司」：线索 → 方案演示"
    assert said[1].startswith("✅ 已记录行为：痛点深度访谈 +5 分（客户洞察）")
    with Session(engine) as session:
        assert [log.points for log in session.exec(select(BehaviorLog)).all()] == [5]
