import pytest
from sqlmodel import Session, select

from store.models import Contact, Customer, Dialog, Opportunity
from tests.conftest import T0
from tests.conversation import click, customer_named, labels, last_card, say, seed_customer, texts
from tests.test_leads import client, opportunities  # noqa: F401 (the fixture)

ISSUE_LEAD = "新线索 杭州云启网络科技，互联网行业，预算80w，决策人是李总CIO，目前在方案评估"
OPEN_DEAL = ["查看商机", "新建第二个商机", "取消"]


def contacts(engine, customer: str) -> list[tuple[str, str | None, str | None]]:
    with Session(engine) as session:
        found = customer_named(session, customer)
        rows = session.exec(select(Contact).where(Contact.customer_id == found.id)).all()
        return sorted((c.name, c.title, c.role) for c in rows)


def answer_the_rest(client, card) -> tuple[list[str], dict]:
    """Answers whatever the bot still asks (first button, or a typed value); returns the questions and the end card."""
    asked = []
    while card["title"].startswith("新线索 · "):
        asked.append(card["title"].removeprefix("新线索 · "))
        card = last_card(click(client, card, labels(card)[0]) if card["buttons"] else say(client, "张三 科长"))
    return asked, card


def test_the_issue_lead_fills_every_field_and_asks_only_the_industry_rule(client, engine):
    card = last_card(say(client, ISSUE_LEAD))
    assert card["title"] == "新线索 · 用户规模"
    assert card["lines"][1] == ("已填：客户行业：互联网；预算区间：百万以下（80万）；决策链：李总（CIO，决策人）；"
                                "需求阶段：方案评估")
    saved = last_card(click(client, card, "10万以下"))
    assert saved["title"] == "✅ 线索已保存 · 杭州云启网络科技"
    assert ["标签", "互联网行业-百万以下预算-CIO决策"] in saved["fields"]
    [opportunity] = opportunities(engine)
    assert (opportunity.name, opportunity.industry, opportunity.budget, opportunity.budget_band,
            opportunity.need_stage) == ("杭州云启网络科技", "互联网", 800_000, "百万以下", "方案评估")
    assert opportunity.decision_chain == [{"name": "李总", "title": "CIO", "role": "决策人"}]
    assert contacts(engine, "杭州云启网络科技") == [("李总", "CIO", "决策人")]
    with Session(engine) as session:
        assert [c.name for c in session.exec(select(Customer)).all()] == ["杭州云启网络科技"]


def test_key_value_pairs_are_read_like_the_sentence(client, engine):
    card = last_card(say(client, "新线索 客户：杭州云启网络科技；行业：互联网；预算：80万；决策人：李总CIO；阶段：在看方案"))
    assert card["title"] == "新线索 · 用户规模"
    click(client, card, "10万以下")
    [opportunity] = opportunities(engine)
    assert (opportunity.name, opportunity.industry, opportunity.budget, opportunity.need_stage) == (
        "杭州云启网络科技", "互联网", 800_000, "方案评估")
    assert contacts(engine, "杭州云启网络科技") == [("李总", "CIO", "决策人")]


@pytest.mark.parametrize(("text", "customer", "industry", "budget", "decider", "need"), [
    ("新线索 宁波农商银行 决策人 赵行长 预算 80万 现在在方案评估", "宁波农商银行", "金融", 800_000, ("赵行长", "行长"),
     "方案评估"),
    ("新线索 常州精工机械，财务总监老孙是决策人，预算两百万，在调研", "常州精工机械", "制造业", 2_000_000, ("老孙", "财务总监"),
     "需求调研"),
    ("新线索 南通市第一人民医院 拍板的是分管院长 预算300万 准备招标", "南通市第一人民医院", "医疗", 3_000_000,
     ("分管院长", "分管院长"), "招标采购"),
    ("新线索\n- 客户：苏州工业园区管委会\n- 预算：八百万\n- 决策人：CTO王明\n- 走立项", "苏州工业园区管委会", "政府", 8_000_000,
     ("王明", "CTO"), "立项审批"),
])
def test_each_phrasing_from_the_issue_is_stored_without_asking_its_fields(client, engine, text, customer, industry,
                                                                         budget, decider, need):
    asked, saved = answer_the_rest(client, last_card(say(client, text)))
    assert not {"客户行业", "预算区间", "决策链", "需求阶段", "客户名称"} & set(asked)
    assert saved["title"] == f"✅ 线索已保存 · {customer}"
    [opportunity] = opportunities(engine)
    assert (opportunity.industry, opportunity.budget, opportunity.need_stage) == (industry, budget, need)
    assert {"name": decider[0], "title": decider[1], "role": "决策人"} in opportunity.decision_chain
    assert (decider[0], decider[1], "决策人") in contacts(engine, customer)


def test_several_decision_makers_are_all_kept_as_contacts(client, engine):
    card = last_card(say(client, "新线索 美的集团，制造业，预算1亿，CTO王明和CFO李娜一起拍板，评估方案中，设备型号:M8"))
    assert card["title"] == "新线索 · 产线规模"
    click(client, card, "20条以上")
    [opportunity] = opportunities(engine)
    assert opportunity.evidence == {"设备型号": "M8", "产线规模": "20条以上"}
    assert contacts(engine, "美的集团") == [("李娜", "CFO", "决策人"), ("王明", "CTO", "决策人")]


def test_a_new_logistics_customer_asks_only_what_is_missing(client, engine):
    card = last_card(say(client, "新线索 无锡盛世，做物流的"))
    assert card["title"] == "新线索 · 预算区间"
    assert card["lines"][1] == "已填：客户行业：物流"
    card = last_card(say(client, "五十万"))
    card = last_card(say(client, "王总 CEO"))
    saved = last_card(click(client, card, "需求调研"))
    assert saved["title"] == "✅ 线索已保存 · 无锡盛世"  # 物流 has no industry evidence to ask
    [opportunity] = opportunities(engine)
    assert (opportunity.industry, opportunity.budget, opportunity.tags) == (
        "物流", 500_000, ["物流行业-百万以下预算-CEO决策"])


def test_a_name_the_parser_is_unsure_of_is_shown_and_a_typed_answer_corrects_it(client, engine):
    card = last_card(say(client, "新线索 大连远洋他们想做个数字化平台预算五十万左右王总说了算"))
    assert (card["title"], card["lines"], labels(card)) == ("确认客户名称", ["客户名称是「大连远洋」吗？"], ["是", "改一下"])
    with Session(engine) as session:
        assert session.exec(select(Customer)).all() == []
    card = last_card(say(client, "大连远洋渔业"))
    assert card["title"] == "新线索 · 客户行业"
    assert "预算区间：百万以下（50万）" in card["lines"][1] and "决策链：王总" in card["lines"][1]
    answer_the_rest(client, card)
    [opportunity] = opportunities(engine)
    assert opportunity.name == "大连远洋渔业" and opportunity.budget == 500_000


def test_confirming_the_shown_name_keeps_it_and_edit_asks_for_it_again(client, engine):
    card = last_card(say(client, "新线索 大连远洋他们想做个数字化平台"))
    assert last_card(click(client, card, "是"))["title"] == "新线索 · 客户行业"
    with Session(engine) as session:
        assert session.exec(select(Dialog)).one().data["customer"] == "大连远洋"

    card = last_card(say(client, "新线索 大连远洋他们想做个数字化平台"))
    card = last_card(click(client, card, "改一下"))
    assert card["title"] == "新线索 · 客户名称"
    assert last_card(say(client, "大连远洋渔业集团"))["title"] == "新线索 · 客户行业"
    with Session(engine) as session:
        assert session.exec(select(Dialog)).one().data["customer"] == "大连远洋渔业集团"


def wuxi_with_an_open_deal(engine, name="无锡盛世"):
    with Session(engine) as session:
        seed_customer(session, name, industry="物流", stage="方案演示", updated=T0)


def test_a_customer_with_an_open_deal_is_said_so_and_never_silently_doubled(client, engine):
    wuxi_with_an_open_deal(engine)
    card = last_card(say(client, "新线索 无锡盛世"))
    assert (card["title"], card["lines"], labels(card)) == (
        "已有进行中的商机", ["「无锡盛世」已有进行中的商机（阶段：方案演示）"], OPEN_DEAL)
    assert len(opportunities(engine)) == 1
    assert texts(say(client, "随便说点")) == ["请点「查看商机」「新建第二个商机」或「取消」。"]
    assert texts(click(client, card, "取消")) == ["已取消，没有新建商机。"]
    assert len(opportunities(engine)) == 1
    with Session(engine) as session:
        assert session.exec(select(Dialog)).all() == []


def test_view_shows_the_open_deal_instead_of_a_second_one(client, engine):
    wuxi_with_an_open_deal(engine)
    card = last_card(say(client, "新线索 无锡盛世 预算50万"))
    shown = last_card(click(client, card, "查看商机"))
    assert shown["title"] == "无锡盛世 · 进行中的商机"
    assert ["阶段", "方案演示"] in shown["fields"] and ["客户行业", "物流"] in shown["fields"]
    assert len(opportunities(engine)) == 1


def test_the_open_deal_card_after_the_dialog_was_left_is_refused(client, engine):
    wuxi_with_an_open_deal(engine)
    card = last_card(say(client, "新线索 无锡盛世"))
    say(client, "取消")
    assert texts(click(client, card, "查看商机")) == ["这张卡片已失效，请重新发送「新线索」。"]
    assert len(opportunities(engine)) == 1


def test_a_second_deal_is_opened_only_when_asked_for(client, engine):
    wuxi_with_an_open_deal(engine)
    card = last_card(say(client, "新线索 无锡盛世 预算50万 王总拍板 在调研"))
    saved = last_card(click(client, card, "新建第二个商机"))
    assert saved["title"] == "✅ 线索已保存 · 无锡盛世"
    with Session(engine) as session:
        assert len(session.exec(select(Customer)).all()) == 1
        deals = session.exec(select(Opportunity).where(Opportunity.status == "open")).all()
        assert sorted(d.stage for d in deals) == ["方案演示", "线索"]


def test_a_near_match_with_an_open_deal_asks_same_customer_then_says_so(client, engine):
    wuxi_with_an_open_deal(engine, "无锡盛世物流有限公司")
    card = last_card(say(client, "新线索 无锡盛世物流"))
    assert card["title"] == "是否为同一客户？"
    card = last_card(click(client, card, "是同一客户"))
    assert card["lines"] == ["「无锡盛世物流有限公司」已有进行中的商机（阶段：方案演示）"]
    click(client, card, "取消")
    assert len(opportunities(engine)) == 1


def test_a_name_typed_as_an_answer_is_cut_like_the_first_message(client, engine):
    card = last_card(say(client, "新线索"))
    assert card["title"] == "新线索 · 客户名称"
    assert last_card(say(client, "大连远洋渔业，搞远洋捕捞的，挺大一家"))["title"] == "新线索 · 客户行业"
    with Session(engine) as session:
        assert session.exec(select(Dialog)).one().data["customer"] == "大连远洋渔业"


def test_a_decision_maker_typed_as_an_answer_is_read_in_either_order(client, engine):
    card = last_card(say(client, "新线索 无锡盛世 物流 预算50万 在调研"))
    assert card["title"] == "新线索 · 决策链"
    saved = last_card(say(client, "财务总监老孙"))
    assert saved["title"] == "✅ 线索已保存 · 无锡盛世"
    assert contacts(engine, "无锡盛世") == [("老孙", "财务总监", "决策人")]
