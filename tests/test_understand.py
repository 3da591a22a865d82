"""Issue 14, points 1 and 3 through the simulator: reps' free phrasing runs the action it states, or asks once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.config import ModulesConfig
from bot.runtime import Runtime
from handlers.customers import GUESS_SIMILARITY, similarity
from store import dialogs
from store.db import session_scope
from store.models import (
    Checklist,
    CommissionHold,
    Customer,
    Opportunity,
    PaymentMilestone,
    StageChange,
    Touch,
)
from tests.conftest import T0
from tests.conversation import click, labels, last_card, say, seed_customer, texts

EARLIER = T0 - timedelta(days=3)
TONGCHUANG = "北京同创科技有限公司"
ZHUOYUE = "合肥卓越电子有限公司"
HANGZHOU = "杭州同创信息技术有限公司"


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


@pytest.fixture
def customers(runtime, engine) -> dict[str, int]:
    """Three of lilei's customers, two of them look-alikes (北京同创 / 杭州同创); 北京同创 signed."""
    with Session(engine) as session:
        return {
            TONGCHUANG: seed_customer(session, TONGCHUANG, aliases=["北京同创"], stage="合同签署", updated=EARLIER).id,
            ZHUOYUE: seed_customer(session, ZHUOYUE, aliases=["合肥卓越"], stage="需求确认", updated=EARLIER).id,
            HANGZHOU: seed_customer(session, HANGZHOU, aliases=["杭州同创"], updated=EARLIER).id,
        }


def stage_changes(engine) -> list[tuple[int, str | None, str]]:
    with Session(engine) as session:
        return [(c.opportunity_id, c.from_stage, c.to_stage) for c in session.exec(select(StageChange)).all()]


def touches(engine) -> list[tuple[str, int | None]]:
    with Session(engine) as session:
        return [(t.kind, t.customer_id) for t in session.exec(select(Touch).order_by(Touch.id)).all()]


def customer_id(engine, name: str) -> int:
    with Session(engine) as session:
        return session.exec(select(Customer).where(Customer.name == name)).one().id


def received(engine) -> list[tuple[str, int]]:
    with Session(engine) as session:
        rows = session.exec(select(PaymentMilestone).order_by(PaymentMilestone.due_on)).all()
        return [(m.label, m.received_amount) for m in rows]


def with_plan_and_hold(client, engine, opportunity: int) -> None:
    """北京同创's payment plan, its first milestone overdue so that lilei's commission is held."""
    with session_scope(engine) as session:
        session.get(Opportunity, opportunity).amount = 1_004_000
        dialogs.start(session, user_id="lilei", flow="payments_plan", step="plan", data={"opportunity": opportunity},
                      now=T0)
    say(client, "首付50% 12月1日，尾款50% 明年3月1日")
    with session_scope(engine) as session:
        milestone = session.exec(select(PaymentMilestone).order_by(PaymentMilestone.id)).first()
        session.add(CommissionHold(rep_id="lilei", milestone_id=milestone.id, reason="首付款逾期", placed_at=T0))


def test_a_payment_inside_a_sentence_is_recorded_and_releases_the_hold(client, engine, customers):
    with_plan_and_hold(client, engine, customers[TONGCHUANG])
    said = texts(say(client, "北京同创尾款50.2w今天到账了"))
    assert said == [f"已录入「{TONGCHUANG}」回款 50.2万元。首付款 已结清。因逾期暂扣的提成已解除。"]
    assert received(engine) == [("首付款", 502_000), ("尾款", 0)]
    with Session(engine) as session:
        assert session.exec(select(CommissionHold)).one().released_at is not None


def test_an_advance_stated_in_a_sentence_changes_the_stage(client, engine, customers):
    card = last_card(say(client, "今天推进了合肥卓越，到方案演示了"))
    assert card["title"] == f"「{ZHUOYUE}」这次是哪类行为？"
    assert stage_changes(engine) == []  # held until the behavior is chosen
    say(client, "产品演示")
    assert stage_changes(engine) == [(customers[ZHUOYUE], "需求确认", "方案演示")]


def test_a_command_word_glued_to_its_arguments_runs(client, engine, customers):
    last_card(say(client, "推进合肥卓越到方案演示"))
    say(client, "产品演示")
    assert stage_changes(engine) == [(customers[ZHUOYUE], "需求确认", "方案演示")]


def test_a_planned_visit_opens_the_checklist_and_a_done_one_is_a_visit_touch(client, engine, customers):
    card = last_card(say(client, "拜访杭州同创"))
    with Session(engine) as session:
        [checklist] = session.exec(select(Checklist)).all()
    assert checklist.customer_id == customer_id(engine, HANGZHOU) and card["buttons"]
    assert texts(say(client, "下午拜访了杭州同创")) == [f"已记录拜访：{HANGZHOU}。"]
    assert touches(engine) == [("visit", customer_id(engine, HANGZHOU))]


def test_when_unsure_one_question_is_asked_and_yes_records_the_payment(client, engine, customers):
    card = last_card(say(client, "北京同创好像尾款50.2w到账了"))
    assert (card["title"], labels(card)) == (f"要把 50.2 万记为{TONGCHUANG}的回款吗？", ["是", "不是，记为备注"])
    assert received(engine) == [] and touches(engine) == []  # nothing filed before the answer
    with_plan_and_hold(client, engine, customers[TONGCHUANG])
    assert texts(click(client, card, "是"))[0].startswith(f"已录入「{TONGCHUANG}」回款 50.2万元。")
    assert received(engine)[0] == ("首付款", 502_000)


def test_when_unsure_no_keeps_a_note_and_says_it_is_a_note(client, engine, customers):
    card = last_card(say(client, "北京同创好像尾款50.2w到账了"))
    assert texts(click(client, card, "不是，记为备注")) == [f"已作为备注记入「{TONGCHUANG}」。"]
    assert received(engine) == [] and touches(engine) == [("message", customer_id(engine, TONGCHUANG))]


def test_a_plain_note_is_confirmed_as_a_note(client, engine, customers):
    assert texts(say(client, "北京同创的王总说下周再聊")) == [f"已作为备注记入「{TONGCHUANG}」。"]
    assert touches(engine) == [("message", customer_id(engine, TONGCHUANG))]
    assert stage_changes(engine) == []


def test_a_stated_payment_without_an_amount_is_asked_about_not_filed(client, engine, customers):
    card = last_card(say(client, "北京同创的款到了"))
    assert card["title"] == "看起来是「回款」，但没看出金额。请按「回款 <客户> <金额>」发送，或记为备注。"
    assert labels(card) == ["记为备注"] and touches(engine) == []


def test_an_unknown_customer_is_offered_as_a_lead_or_nothing(client, engine, customers):
    card = last_card(say(client, "推进 火星科技 到 方案演示"))
    assert (card["title"], labels(card)) == ("没有找到「火星科技」", ["新建线索", "都不是"])
    assert texts(click(client, card, "都不是")) == ["好的，没有做任何改动。"]
    assert stage_changes(engine) == []
    with Session(engine) as session:
        assert len(session.exec(select(Opportunity)).all()) == 3


def test_new_lead_on_the_not_found_card_starts_that_lead(client, engine, customers):
    card = last_card(say(client, "拜访 火星科技"))
    asked = click(client, card, "新建线索")
    assert asked and "火星科技" not in {c.name for c in _all_customers(engine)}  # a draft, asked for its fields
    with Session(engine) as session:
        assert dialogs.active(session, "lilei", now=T0).flow == "leads"


def _all_customers(engine) -> list[Customer]:
    with Session(engine) as session:
        return list(session.exec(select(Customer)).all())


def test_look_alike_candidates_always_end_with_none_of_them(client, engine, customers):
    card = last_card(say(client, "推进 同创 到 方案演示"))
    assert card["title"] == "您指的是哪个客户？"
    assert sorted(labels(card)[:-1]) == sorted([TONGCHUANG, HANGZHOU]) and labels(card)[-1] == "都不是"
    assert texts(click(client, card, "都不是")) == ["好的，没有做任何改动。"] and stage_changes(engine) == []


def test_a_guess_needs_alike_names_on_both_sides_of_the_threshold(engine, customers):
    with Session(engine) as session:
        tongchuang = session.exec(select(Customer).where(Customer.name == TONGCHUANG)).one()
        zhuoyue = session.exec(select(Customer).where(Customer.name == ZHUOYUE)).one()
    assert similarity("火星科技", tongchuang) < GUESS_SIMILARITY  # shares only 科技
    assert similarity("北京同创科", tongchuang) >= GUESS_SIMILARITY
    assert similarity("合肥卓悦电子", zhuoyue) >= GUESS_SIMILARITY  # one wrong character
    assert similarity("合肥卓", zhuoyue) < GUESS_SIMILARITY


def test_tolerant_command_words_and_synonyms(client, engine, customers):
    assert last_card(say(client, "帮助？"))["title"] == "留痕 · 可用命令"
    assert last_card(say(client, "怎么用"))["title"] == "留痕 · 可用命令"
    last_card(say(client, "推进 合肥卓越 到 方案演示"))
    assert texts(say(client, "算了不弄了")) == ["已退出当前操作。"]
    assert texts(say(client, "取消！")) == ["当前没有进行中的操作。"]
    assert stage_changes(engine) == []


def test_an_open_dialog_still_gets_plain_answers(client, engine, customers):
    last_card(say(client, "推进 合肥卓越 到 方案演示"))
    say(client, "产品演示")  # the behavior question's answer, not a new command
    assert stage_changes(engine) == [(customers[ZHUOYUE], "需求确认", "方案演示")]


def test_a_module_switched_off_has_no_intents(settings, engine, clock, customers):
    settings.modules = ModulesConfig(**{**settings.modules.model_dump(), "payments": False})
    runtime = Runtime(settings, clock=clock, engine=engine)  # the org is already in the database (customers)
    with TestClient(create_app(runtime, start_workers=False)) as client:
        assert texts(say(client, "北京同创尾款50.2w今天到账了")) == [f"已作为备注记入「{TONGCHUANG}」。"]
    assert received(engine) == []


def test_a_lead_mentioned_mid_sentence_is_asked_about_first(client, engine, customers):
    card = last_card(say(client, "今天展会上认识一个新客户，郑州中原制造，做机床的"))
    assert (card["title"], labels(card)) == ("要新建线索「郑州中原制造」吗？", ["是", "不是，记为备注"])
    with Session(engine) as session:
        assert dialogs.active(session, "lilei", now=T0) is None  # no lead started before the answer
    click(client, card, "是")
    with Session(engine) as session:
        assert dialogs.active(session, "lilei", now=T0).flow == "leads"


def last_update(engine, opportunity: int):
    with Session(engine) as session:
        return session.get(Opportunity, opportunity).last_update_at


def test_a_status_update_without_a_stage_change_records_progress(client, engine, customers):
    before = last_update(engine, customers[ZHUOYUE])
    said = texts(say(client, "合肥卓越的方案还在走内部评审，下一步等他们总经理上会"))
    assert said == [f"已记录「{ZHUOYUE}」的进展，「需求确认」阶段停留计时已重置。"]
    assert last_update(engine, customers[ZHUOYUE]) == T0 != before  # the stage clock starts again
    assert stage_changes(engine) == [] and touches(engine) == []


def test_weak_progress_wording_asks_once_and_yes_records_it(client, engine, customers):
    before = last_update(engine, customers[ZHUOYUE])
    card = last_card(say(client, "合肥卓越试用反馈挺好"))
    assert (card["title"], labels(card)) == (f"要把这条记为{ZHUOYUE}的最新进展吗？", ["是", "不是，记为备注"])
    assert last_update(engine, customers[ZHUOYUE]) == before  # nothing recorded before the answer
    click(client, card, "是")
    assert last_update(engine, customers[ZHUOYUE]) == T0


def test_talk_about_a_plan_or_a_cancelled_visit_stays_a_note(client, engine, customers):
    assert texts(say(client, "下个月争取把合肥卓越推进到合同签署")) == [f"已作为备注记入「{ZHUOYUE}」。"]
    assert texts(say(client, "本来约了杭州同创今天见 结果客户临时取消了")) == [f"已作为备注记入「{HANGZHOU}」。"]
    assert stage_changes(engine) == []
    assert touches(engine) == [("message", customer_id(engine, ZHUOYUE)), ("message", customer_id(engine, HANGZHOU))]
    with Session(engine) as session:
        assert session.exec(select(Checklist)).all() == []  # no visit checklist opened


def test_a_payment_stated_with_the_amount_first_is_recorded(client, engine, customers):
    with_plan_and_hold(client, engine, customers[TONGCHUANG])
    assert texts(say(client, "刚看了网银 北京同创那笔50.2w到了"))[0].startswith(f"已录入「{TONGCHUANG}」回款 50.2万元。")
    assert received(engine)[0] == ("首付款", 502_000)


def test_an_unknown_lead_keeps_its_name_as_typed(client, engine, customers):
    say(client, "有个新客户DataWave帮我建一下")
    with Session(engine) as session:
        dialog = dialogs.active(session, "lilei", now=T0)
    assert (dialog.flow, dialog.data["customer"]) == ("leads", "DataWave")  # not datawave, not …帮我建一下


def test_a_payment_with_a_currency_sign_and_a_planned_visit_records_the_payment(client, engine, customers):
    with_plan_and_hold(client, engine, customers[TONGCHUANG])
    said = texts(say(client, "北京同创第一期款项到账 ¥502,000 顺便约了下周去拜访"))
    assert said[0].startswith(f"已录入「{TONGCHUANG}」回款 50.2万元。")
    assert received(engine)[0] == ("首付款", 502_000)
    with Session(engine) as session:
        assert session.exec(select(Checklist)).all() == []  # the planned visit is the lesser fact


def test_a_process_step_reached_records_progress(client, engine, customers):
    said = texts(say(client, "合肥卓越的合同在法务那边过第一轮了"))
    assert said == [f"已记录「{ZHUOYUE}」的进展，「需求确认」阶段停留计时已重置。"]
    assert last_update(engine, customers[ZHUOYUE]) == T0
    assert texts(say(client, "合肥卓越需要我们帮他们做个数据迁移")) == [f"已作为备注记入「{ZHUOYUE}」。"]


def test_dialect_cancel_leaves_the_dialog_and_a_clipped_lead_word_starts_a_lead(client, engine, customers):
    last_card(say(client, "推进 合肥卓越 到 方案演示"))
    assert texts(say(client, "别记了别记了")) == ["已退出当前操作。"]
    say(client, "线索 银川贺兰山数科")
    with Session(engine) as session:
        dialog = dialogs.active(session, "lilei", now=T0)
    assert (dialog.flow, dialog.data["customer"]) == ("leads", "银川贺兰山数科")
    assert stage_changes(engine) == []


def test_a_customer_called_by_the_bare_brand_is_found(client, engine, customers):
    with Session(engine) as session:
        qianfeng = seed_customer(session, "贵阳黔峰电子有限公司", aliases=["贵阳黔峰"], updated=EARLIER).id
    assert texts(say(client, "刚见完黔峰的李总")) == ["已记录拜访：贵阳黔峰电子有限公司。"]
    assert touches(engine) == [("visit", qianfeng)]


def test_a_visit_made_with_no_known_customer_is_asked_about_not_filed(client, engine, customers):
    card = last_card(say(client, "刚从客户那边出来 聊得不错"))
    assert card["title"] == "看起来是「拜访」，但没看出是哪个客户。请按「拜访 <客户>」发送，或记为备注。"
    assert labels(card) == ["记为备注"] and touches(engine) == []


def test_on_the_way_to_meet_someone_opens_the_checklist_and_a_traffic_jam_is_a_note(client, engine, customers):
    last_card(say(client, "在去杭州同创的路上 待会跟他们CTO碰个面"))
    with Session(engine) as session:
        [checklist] = session.exec(select(Checklist)).all()
    assert checklist.customer_id == customers[HANGZHOU] and touches(engine) == []
    assert texts(say(client, "去合肥卓越的路上堵车了")) == [f"已作为备注记入「{ZHUOYUE}」。"]


def test_the_end_of_the_deal_named_after_the_signing_wins(client, engine, customers):
    card = last_card(say(client, "北京同创合同签了 赢单！"))
    click(client, card, "回款跟进 +5")
    assert stage_changes(engine) == [(customers[TONGCHUANG], "合同签署", "赢单")]


def test_a_hedged_advance_is_asked_about_not_filed_as_a_note(client, engine, customers):
    card = last_card(say(client, "合肥卓越估计已经到谈判阶段了"))
    assert (card["title"], labels(card)) == (f"要把{ZHUOYUE}推进到「商务谈判」吗？", ["是", "不是，记为备注"])
    assert stage_changes(engine) == [] and touches(engine) == []


def test_a_visit_only_the_safety_net_recognises_is_asked_about_and_yes_records_it(client, engine, customers):
    card = last_card(say(client, "合肥卓越下午去了 保安登记了半天"))
    assert (card["title"], labels(card)) == (f"要记一次对{ZHUOYUE}的拜访吗？", ["是", "不是，记为备注"])
    assert touches(engine) == []  # a guess is never filed before the rep answers
    click(client, card, "是")
    assert touches(engine) == [("visit", customers[ZHUOYUE])]


def test_a_payment_only_the_safety_net_recognises_is_asked_and_no_keeps_a_note(client, engine, customers):
    card = last_card(say(client, "北京同创那边今天把二十万结过来了"))
    assert (card["title"], labels(card)) == (f"要把 20 万记为{TONGCHUANG}的回款吗？", ["是", "不是，记为备注"])
    assert texts(click(client, card, "不是，记为备注")) == [f"已作为备注记入「{TONGCHUANG}」。"]
    assert received(engine) == [] and touches(engine) == [("message", customers[TONGCHUANG])]


def test_a_daily_report_request_with_chatter_after_it_is_asked_about(client, engine, customers):
    card = last_card(say(client, "日报弄一个 今天累坏了"))
    assert (card["title"], labels(card)) == ("要执行「日报速记」吗？", ["是", "不是，记为备注"])
