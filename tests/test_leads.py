import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.cli import main
from store.models import Contact, Customer, Dialog, Opportunity, StageChange
from tests.conftest import T0
from tests.conversation import click, customer_named, labels, last_card, say, seed_customer, texts

DRAFT = "草稿未保存：行业、预算、决策链、需求阶段等必填项补全后才会保存为商机。发送「取消」放弃。"


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def opportunities(engine) -> list[Opportunity]:
    with Session(engine) as session:
        return list(session.exec(select(Opportunity)).all())


def test_incomplete_lead_is_asked_field_by_field_then_saved_with_the_auto_tag(client, engine):
    first = last_card(say(client, "新线索 华东启明"))
    assert first["title"] == "新线索 · 客户行业"
    assert labels(first) == ["制造业", "教育", "医疗", "金融", "零售", "政府", "能源", "互联网", "物流"]
    assert first["note"] == DRAFT

    budget = last_card(click(client, first, "教育"))
    assert budget["title"] == "新线索 · 预算区间"
    assert labels(budget) == ["百万以下", "百万级", "千万级", "亿级"]
    assert opportunities(engine) == []

    chain = last_card(say(client, "2000万"))
    assert chain["title"] == "新线索 · 决策链"
    assert labels(chain) == ["CEO", "CTO", "CIO", "CFO", "总经理", "采购负责人"]
    assert "预算区间：千万级（2000万）" in chain["lines"][1]

    need = last_card(say(client, "王总 CTO"))
    assert need["title"] == "新线索 · 需求阶段"
    assert labels(need) == ["需求调研", "方案评估", "立项审批", "招标采购"]

    role = last_card(click(client, need, "方案评估"))
    assert (role["title"], role["note"]) == ("新线索 · 教务处", DRAFT)
    assert opportunities(engine) == []
    role = last_card(say(client, "张处长 处长"))
    assert role["title"] == "新线索 · 信息中心"
    role = last_card(click(client, role, "信息中心主任"))
    assert role["title"] == "新线索 · 分管校长"
    saved = last_card(click(client, role, "副校长"))

    assert saved["title"] == "✅ 线索已保存 · 华东启明"
    assert ["标签", "教育行业-千万级预算-CTO决策"] in saved["fields"]
    assert labels(saved) == ["推进到「需求确认」"]
    [opportunity] = opportunities(engine)
    assert (opportunity.stage, opportunity.owner_id, opportunity.status) == ("线索", "lilei", "open")
    assert opportunity.stage_entered_at == opportunity.last_update_at == T0
    assert (opportunity.industry, opportunity.budget, opportunity.budget_band) == ("教育", 20_000_000, "千万级")
    assert opportunity.need_stage == "方案评估" and opportunity.tags == ["教育行业-千万级预算-CTO决策"]
    assert [(p["name"], p["title"], p["role"]) for p in opportunity.decision_chain] == [
        ("王总", "CTO", "决策人"), ("张处长", "处长", "教务处"), ("信息中心主任", "信息中心主任", "信息中心"),
        ("副校长", "副校长", "分管校长")]
    with Session(engine) as session:
        customer = customer_named(session, "华东启明")
        assert (customer.owner_id, customer.industry) == ("lilei", "教育")
        contacts = session.exec(select(Contact).where(Contact.customer_id == customer.id)).all()
        assert sorted(c.role for c in contacts) == ["信息中心", "决策人", "分管校长", "教务处"]
        assert session.exec(select(StageChange)).one().to_stage == "线索"
        assert session.exec(select(Dialog)).all() == []


def test_one_line_lead_with_everything_asks_only_the_industry_rules(client, engine):
    card = last_card(say(client, "新线索 华东医疗器械 医疗 预算800万 决策人王总CTO 需求阶段:方案评估"))
    assert card["title"] == "新线索 · 医院等级"
    card = last_card(click(client, card, "三甲"))
    assert card["title"] == "新线索 · 设备科"
    saved = last_card(say(client, "李科长 设备科长"))
    assert ["标签", "医疗行业-百万级预算-CTO决策"] in saved["fields"]
    assert ["医院等级", "三甲"] in saved["fields"]
    [opportunity] = opportunities(engine)
    assert opportunity.evidence == {"医院等级": "三甲"}
    assert opportunity.budget == 8_000_000


INDUSTRY_RULES = {
    "制造业": ["设备型号", "产线规模"],
    "教育": ["教务处", "信息中心", "分管校长"],
    "医疗": ["医院等级", "设备科"],
    "金融": ["合规要求", "科技部"],
    "零售": ["门店数量"],
    "政府": ["资金来源", "采购方式"],
    "能源": ["场站数量"],
    "互联网": ["用户规模"],
    "物流": [],
}


@pytest.mark.parametrize("industry", list(INDUSTRY_RULES))
def test_each_industry_rule_is_enforced_before_saving(client, engine, industry):
    card = last_card(say(client, f"新线索 测试客户 {industry} 预算50万 决策人李总CEO 需求阶段:需求调研"))
    asked = []
    while card["title"].startswith("新线索 · "):
        asked.append(card["title"].removeprefix("新线索 · "))
        assert opportunities(engine) == []
        card = last_card(click(client, card, labels(card)[0]) if card["buttons"] else say(client, "X200"))
    assert asked == INDUSTRY_RULES[industry]
    assert card["title"] == "✅ 线索已保存 · 测试客户"
    [opportunity] = opportunities(engine)
    assert opportunity.tags == [f"{industry}行业-百万以下预算-CEO决策"]


def test_industry_evidence_given_on_the_first_line_is_not_asked_again(client, engine):
    card = last_card(say(client, "新线索 精工机床 制造业 预算3000万 决策人赵总总经理 需求阶段:招标采购 设备型号:X200"))
    assert card["title"] == "新线索 · 产线规模"
    saved = last_card(click(client, card, "6-20条"))
    assert ["设备型号", "X200"] in saved["fields"] and ["产线规模", "6-20条"] in saved["fields"]
    assert opportunities(engine)[0].evidence == {"设备型号": "X200", "产线规模": "6-20条"}


def test_bad_answers_are_refused_and_the_same_question_asked_again(client):
    assert texts(say(client, "新线索 华东启明 随便 写写")) == ["没看懂这几项，已忽略：随便、写写"]
    replies = say(client, "农业")
    assert texts(replies)[0].startswith("不认识的行业「农业」")
    assert last_card(replies)["title"] == "新线索 · 客户行业"
    say(client, "金融")
    replies = say(client, "很多钱")
    assert texts(replies) == ["没看懂金额「很多钱」，请输入如「800万」「1.2亿」。"]
    assert last_card(replies)["title"] == "新线索 · 预算区间"


def test_menu_lead_asks_for_the_customer_first_and_cancel_leaves_nothing(client, engine):
    messages = client.post("/sim/api/menu", json={"user": "lilei", "key": "新线索"}).json()["messages"]
    assert messages[-1]["payload"]["card"]["title"] == "新线索 · 客户名称"
    assert last_card(say(client, "华东医疗器械"))["title"] == "新线索 · 客户行业"
    assert texts(say(client, "取消")) == ["已退出当前操作。"]
    assert opportunities(engine) == []
    assert texts(say(client, "医疗")) == ["没听懂「医疗」。发送「帮助」查看可用命令。"]


def test_a_stale_lead_card_button_is_refused(client):
    industry = last_card(say(client, "新线索 华东启明"))
    say(client, "医疗")
    assert texts(click(client, industry, "教育")) == ["这张卡片对应的问题已经回答过或已失效，请按最新的提示继续。"]


def lead_to_the_same_question(client, engine, mention):
    with Session(engine) as session:
        seed_customer(session, "华东医疗器械有限公司", updated=T0 - timedelta(days=3))
    return last_card(say(client, f"新线索 {mention} 医疗 预算800万 决策人王总CTO 需求阶段:方案评估"))


def test_near_duplicate_customer_asks_and_same_records_the_alias(client, engine):
    card = lead_to_the_same_question(client, engine, "华东医疗器械")
    assert card["title"] == "是否为同一客户？"
    assert card["lines"] == ["「华东医疗器械」和已有客户「华东医疗器械有限公司」很像。"]
    assert labels(card) == ["是同一客户", "新建客户"]
    card = last_card(click(client, card, "是同一客户"))
    assert card["lines"] == ["「华东医疗器械有限公司」已有进行中的商机（阶段：线索）"]
    card = last_card(click(client, card, "新建第二个商机"))
    card = last_card(click(client, card, "三甲"))
    saved = last_card(say(client, "李科长 设备科长"))
    assert saved["title"] == "✅ 线索已保存 · 华东医疗器械有限公司"
    with Session(engine) as session:
        assert len(session.exec(select(Customer)).all()) == 1
        customer = customer_named(session, "华东医疗器械有限公司")
        assert customer.aliases == ["华东医疗器械"]
        assert len(session.exec(select(Opportunity).where(Opportunity.customer_id == customer.id)).all()) == 2


def test_near_duplicate_customer_answered_new_creates_a_second_customer(client, engine):
    card = lead_to_the_same_question(client, engine, "华东医疗器械")
    click(client, card, "新建客户")
    say(client, "三甲")
    say(client, "李科长 设备科长")
    with Session(engine) as session:
        assert sorted(c.name for c in session.exec(select(Customer)).all()) == ["华东医疗器械", "华东医疗器械有限公司"]
        assert customer_named(session, "华东医疗器械有限公司").aliases == []


def test_a_known_alias_links_without_asking(client, engine):
    with Session(engine) as session:
        seed_customer(session, "华东医疗器械有限公司", aliases=["华东医疗"], updated=T0)
    card = last_card(say(client, "新线索 华东医疗 医疗 预算800万 决策人王总CTO 需求阶段:方案评估"))
    assert card["title"] == "已有进行中的商机"
    assert last_card(click(client, card, "新建第二个商机"))["title"] == "新线索 · 医院等级"


def test_another_teams_customer_cannot_be_linked_or_duplicated(client, engine):
    with Session(engine) as session:
        seed_customer(session, "华北能源集团", owner="hanmeimei", updated=T0)
    replies = say(client, "新线索 华北能源集团 能源")
    assert texts(replies) == ["客户「华北能源集团」已由其他团队跟进，不能重复录入。请换一个名称，或联系您的主管。"]
    assert last_card(replies)["title"] == "新线索 · 客户名称"
    card = last_card(say(client, "新线索 华北能源 能源"))
    assert card["title"] != "是否为同一客户？"


def test_manager_sees_the_team_and_admin_sees_all(client, engine):
    with Session(engine) as session:
        seed_customer(session, "华东医疗器械有限公司", updated=T0)
    for user in ("zhangwei", "boss"):
        card = last_card(say(client, "新线索 华东医疗器械有限公司", user=user))
        assert card["lines"] == ["「华东医疗器械有限公司」已有进行中的商机（阶段：线索）"]
        assert last_card(click(client, card, "新建第二个商机", user=user))["title"] == "新线索 · 预算区间"
    assert texts(say(client, "新线索 华东医疗器械有限公司", user="liuyang"))[0].startswith("客户「华东医疗器械有限公司」已由其他团队跟进")


def test_export_opportunities_shows_the_lead_fields(client, engine, db_url, tmp_path, capsys):
    say(client, "新线索 华东医疗器械 医疗 预算800万 决策人王总CTO 需求阶段:方案评估")
    say(client, "三甲")
    say(client, "李科长 设备科长")
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {json.dumps(db_url)}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["export", "opportunities", "--config", str(config)]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["customer"] == "华东医疗器械" and row["rep"] == "lilei" and row["stage"] == "线索"
    assert row["stage_entered_at"] == "2026-12-01T10:00:00+08:00" and row["status"] == "open"
    assert (row["industry"], row["budget"], row["budget_band"]) == ("医疗", 8_000_000, "百万级")
    assert row["decision_chain"][0] == {"name": "王总", "title": "CTO", "role": "决策人"}
    assert row["need_stage"] == "方案评估" and row["evidence"] == {"医院等级": "三甲"}
    assert row["tags"] == ["医疗行业-百万级预算-CTO决策"]


def test_a_fuzzy_look_alike_is_asked_about_too(client, engine):
    assert lead_to_the_same_question(client, engine, "华东区医疗器械")["title"] == "是否为同一客户？"


def test_switched_off_leads_module_registers_no_lead_or_stage_commands(settings, engine, clock):
    from bot.runtime import Runtime
    from store.db import session_scope
    from store.models import User

    settings.modules.leads = False
    runtime = Runtime(settings, clock=clock, engine=engine)
    with session_scope(engine) as session:
        session.add(User(id="lilei", name="李雷", role="rep"))
    with TestClient(create_app(runtime, start_workers=False)) as client:
        assert texts(say(client, "新线索 华东医疗器械")) == ["没听懂「新线索 华东医疗器械」。发送「帮助」查看可用命令。"]
        shown = last_card(say(client, "帮助"))["lines"]
        assert not any(line.startswith(("· 推进 ", "· 进展 ", "· 新线索 ")) for line in shown)


def test_a_draft_started_in_one_process_is_finished_in_another(client, settings, engine, clock):
    from bot.runtime import Runtime

    say(client, "新线索 华东医疗器械 零售 预算50万 决策人李总CEO")
    with TestClient(create_app(Runtime(settings, clock=clock, engine=engine), start_workers=False)) as other:
        card = last_card(say(other, "方案评估"))
        assert card["title"] == "新线索 · 门店数量"
        assert last_card(click(other, card, "50家以下"))["title"] == "✅ 线索已保存 · 华东医疗器械"
