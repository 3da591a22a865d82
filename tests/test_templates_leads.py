import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings, load_settings
from rules.loader import DEFAULTS_DIR
from rules.templates import enable
from tests.conftest import DATA
from tests.conversation import click, drive_lead, labels, last_card, saved_lead, say

ENABLED = ("real_estate", "saas", "hotel")


@pytest.fixture
def settings(db_url, tmp_path) -> Settings:
    """A rules_dir whose leads.yaml has three templates enabled, one after the other (conftest's runtime uses it)."""
    text = (DEFAULTS_DIR / "leads.yaml").read_text(encoding="utf-8")
    for name in ENABLED:
        text = enable(text, name)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "leads.yaml").write_text(text, encoding="utf-8")
    return load_settings(DATA / "config-test.yaml", environ={},
                         overrides={"database": {"url": db_url}, "rules_dir": str(tmp_path / "rules")})


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def test_a_real_estate_lead_is_recognised_from_a_keyword_and_asked_the_developers_questions(client, engine):
    asked, card = drive_lead(client, "新线索 滨江置业 预算3000万 决策人王总CEO 需求阶段:方案评估", {
        "开发阶段": "在建", "土地获取方式": "招拍挂", "项目业态": "商业综合体",
        "成本采购中心": "李娜 成本总监", "营销中心": "营销总", "工程部": "赵刚 工程总"})
    assert asked == ["开发阶段", "土地获取方式", "项目业态", "成本采购中心", "营销中心", "工程部"]
    assert card["title"] == "✅ 线索已保存 · 滨江置业"
    assert ["开发阶段", "在建"] in card["fields"] and ["标签", "房地产行业-千万级预算-CEO决策"] in card["fields"]
    opportunity, contacts = saved_lead(engine, "滨江置业")
    assert opportunity.industry == "房地产"
    assert opportunity.evidence == {"开发阶段": "在建", "土地获取方式": "招拍挂", "项目业态": "商业综合体"}
    assert contacts == [("王总", "CEO", "决策人"), ("李娜", "成本总监", "成本采购中心"), ("营销总", "营销总", "营销中心"),
                        ("赵刚", "工程总", "工程部")]


def test_a_saas_lead_takes_evidence_from_the_first_line_and_asks_only_the_rest(client, engine):
    asked, card = drive_lead(client, "新线索 云帆软件公司 预算80万 决策人陈总CEO 需求阶段:需求调研 现有系统：自研系统 坐席数:200", {
        "坐席数": "50-500个", "部署方式": "私有化部署", "签约周期": "一年", "IT负责人": "CIO", "业务负责人": "周敏 销售总监"})
    assert asked == ["部署方式", "签约周期", "IT负责人", "业务负责人"]
    assert card["title"] == "✅ 线索已保存 · 云帆软件公司"
    opportunity, contacts = saved_lead(engine, "云帆软件公司")
    assert opportunity.industry == "SaaS" and opportunity.tags == ["SaaS行业-百万以下预算-CEO决策"]
    assert opportunity.evidence == {"现有系统": "自研系统", "坐席数": "200", "部署方式": "私有化部署", "签约周期": "一年"}
    assert [c[2] for c in contacts] == ["决策人", "IT负责人", "业务负责人"]


def test_a_hotel_lead_is_recognised_from_binguan_and_asked_the_hotels_questions(client, engine):
    asked, card = drive_lead(client, "新线索 西湖国宾馆 预算500万 决策人孙总董事长 需求阶段:立项审批", {
        "酒店档次": "高端", "客房数": "100-300间", "经营模式": "委托管理", "现用PMS": "石基",
        "业主方": "业主代表", "酒店总经理": "吴磊 总经理", "IT部": "IT经理"})
    assert asked == ["酒店档次", "客房数", "经营模式", "现用PMS", "业主方", "酒店总经理", "IT部"]
    opportunity, contacts = saved_lead(engine, "西湖国宾馆")
    assert (opportunity.industry, opportunity.budget_band, opportunity.need_stage) == ("酒店", "百万级", "立项审批")
    assert opportunity.evidence == {"酒店档次": "高端", "客房数": "100-300间", "经营模式": "委托管理", "现用PMS": "石基"}
    assert ("吴磊", "总经理", "酒店总经理") in contacts and card["title"] == "✅ 线索已保存 · 西湖国宾馆"


def test_the_enabled_templates_are_offered_when_the_industry_is_asked_for(client):
    card = last_card(say(client, "新线索 华东启明"))
    assert card["title"] == "新线索 · 客户行业"
    assert labels(card)[-3:] == ["房地产", "SaaS", "酒店"]
    assert last_card(click(client, card, "酒店"))["title"] == "新线索 · 预算区间"
