"""The console's 行业模板 page: the catalogue against the active leads.yaml; enabling a template is previewed like any
edit and saved as a version (说明 required, audited, 409 on a stale base, undone by a rollback); a rep cannot; and a
rep's next lead, in another process on the same database, is recognised as the enabled industry and asked its evidence."""

from __future__ import annotations

import copy

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.runtime import Runtime
from rules.loader import load_rules
from rules.templates import catalogue
from store.db import session_scope
from store.models import AuditLog, RuleVersion
from tests.conftest import T0
from tests.conversation import drive_lead, saved_lead
from tests.test_admin import token, versions

HOTEL = ["酒店档次", "客房数", "经营模式", "现用PMS"]
HOTEL_ROLES = ["业主方", "酒店总经理", "IT部"]


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def listed(client, runtime) -> dict[str, dict]:
    answer = client.get("/admin/api/templates", params={"t": token(runtime)})
    assert answer.status_code == 200
    return {t["name"]: t for t in answer.json()["templates"]}


def enable(client, runtime, name: str, *, based_on=None, why: str = "启用行业模板", t=None):
    return client.post("/admin/api/templates/enable", params={"t": token(runtime) if t is None else t},
                       json={"name": name, "why": why, "based_on": based_on})


def industries(runtime: Runtime) -> list[str]:
    return [industry.name for industry in runtime.rules.leads.industries]


def test_the_catalogue_lists_every_template_with_what_it_asks_and_whether_it_is_enabled(client, runtime):
    templates = listed(client, runtime)
    assert list(templates) == [t.name for t in catalogue()] and len(templates) >= 30
    hotel = templates["hotel"]
    assert (hotel["label"], hotel["state"], hotel["roles"]) == ("酒店", "off", HOTEL_ROLES)
    assert [e["label"] for e in hotel["evidence"]] == HOTEL and "宾馆" in hotel["words"]
    assert hotel["evidence"][0]["choices"] == ["经济型", "中端", "高端", "奢华", "民宿"]
    # the shipped leads.yaml has its own 互联网, not the template's: enabling it again resets it
    assert templates["internet"]["state"] == "edited" and templates["real_estate"]["state"] == "off"


def test_the_preview_says_which_industries_words_move_and_saves_nothing(client, runtime, engine):
    answer = client.post("/admin/api/templates/check", params={"t": token(runtime)}, json={"name": "saas"})
    assert answer.status_code == 200 and answer.json()["problems"] == []
    effects = answer.json()["effects"]
    assert effects[0] == "修改了：线索必填与行业证据"
    assert "「互联网」的识别词 软件、SaaS、云服务 改为识别为「SaaS」" in effects
    assert any(line.startswith("新增行业「SaaS」：识别词 SaaS、软件") and line.endswith(
        "证据 现有系统、坐席数、部署方式、签约周期；决策角色 IT负责人、业务负责人") for line in effects)
    assert versions(engine) == 0 and "SaaS" not in industries(runtime)


def test_enabling_hotel_saves_a_version_that_passes_rules_check_and_is_used_at_once(client, runtime, engine, tmp_path):
    before = dict(runtime.live.book.texts)
    answer = enable(client, runtime, "hotel", why="开拓酒店客户")
    assert answer.status_code == 200 and answer.json() == {"version": 1}
    hotel = runtime.rules.leads.industry("酒店")
    assert hotel is not None and [q.label for q in hotel.evidence] == HOTEL
    with session_scope(engine) as session:
        row = session.get(RuleVersion, 1)
        assert (row.author, row.why, row.based_on) == ("boss", "开拓酒店客户", None)
        files = dict(row.files)
        [audit] = session.execute(select(AuditLog).where(AuditLog.action == "rules.saved")).scalars()
        assert (audit.actor, audit.target, audit.detail["why"]) == ("boss", "rules:1", "开拓酒店客户")
    leads = yaml.safe_load(files["leads.yaml"])
    assert [i["roles"] for i in leads["industries"] if i["name"] == "酒店"][0][0]["key"] == "业主方"
    assert "# 行业模板「酒店」（hotel）" in files["leads.yaml"] and files["leads.yaml"].lstrip().startswith("#")
    assert {name: text for name, text in files.items() if name != "leads.yaml"} == {
        name: text for name, text in before.items() if name != "leads.yaml"}
    for name, text in files.items():  # `liuhen rules check` on the saved version's files
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert load_rules(tmp_path).leads.industry("酒店") == hotel
    assert listed(client, runtime)["hotel"]["state"] == "on"


@pytest.mark.parametrize("viewer", ["lilei", "zhangwei"])  # a rep, a manager
def test_anyone_but_an_admin_is_refused_and_nothing_is_enabled(client, runtime, engine, viewer):
    t = token(runtime, viewer)
    assert client.get("/admin/api/templates", params={"t": t}).status_code == 403
    assert client.post("/admin/api/templates/check", params={"t": t}, json={"name": "hotel"}).status_code == 403
    answer = enable(client, runtime, "hotel", t=t)
    assert answer.status_code == 403 and "只有管理员" in answer.json()["detail"]
    expired = enable(client, runtime, "hotel", t=token(runtime, at=T0.replace(month=11, day=20)))
    assert expired.status_code == 403 and "已过期" in expired.json()["detail"]
    assert enable(client, runtime, "hotel", t=token(runtime)[:-2] + "xx").status_code == 403
    assert versions(engine) == 0 and "酒店" not in industries(runtime)


def test_enabling_on_a_stale_base_is_refused_with_409(client, runtime, engine):
    assert enable(client, runtime, "real_estate").status_code == 200
    answer = enable(client, runtime, "hotel", based_on=None)  # the page was opened before version 1
    assert answer.status_code == 409 and "版本 #1" in answer.json()["detail"]
    assert versions(engine) == 1 and "酒店" not in industries(runtime)


def test_a_missing_reason_or_an_unknown_template_is_refused_and_nothing_saved(client, runtime, engine):
    answer = enable(client, runtime, "hotel", why=" ")
    assert answer.status_code == 422 and answer.json()["problems"][0]["message"] == "请填写修改说明"
    answer = enable(client, runtime, "spaceport")
    assert answer.status_code == 422 and "没有名为「spaceport」的行业模板" in answer.json()["problems"][0]["message"]
    assert versions(engine) == 0


def test_re_enabling_resets_an_edited_industry_and_a_rollback_undoes_enabling(client, runtime, engine):
    assert enable(client, runtime, "hotel").status_code == 200
    leads = copy.deepcopy(runtime.rules.leads.model_dump(mode="json"))
    hotel = next(i for i in leads["industries"] if i["name"] == "酒店")
    hotel["evidence"] = hotel["evidence"][:1]  # the admin keeps only 酒店档次 on the leads page
    saved = client.post("/admin/api/save", params={"t": token(runtime)},
                        json={"files": {"leads.yaml": leads}, "why": "酒店只问档次", "based_on": 1})
    assert saved.status_code == 200 and listed(client, runtime)["hotel"]["state"] == "edited"
    preview = client.post("/admin/api/templates/check", params={"t": token(runtime)}, json={"name": "hotel"}).json()
    assert f"「酒店」的提问改为：证据 {'、'.join(HOTEL)}；决策角色 {'、'.join(HOTEL_ROLES)}" in preview["effects"]
    assert enable(client, runtime, "hotel", based_on=2).status_code == 200
    assert [q.label for q in runtime.rules.leads.industry("酒店").evidence] == HOTEL
    restored = client.post("/admin/api/restore", params={"t": token(runtime)}, json={"version": 2, "based_on": 3})
    assert restored.status_code == 200 and [q.label for q in runtime.rules.leads.industry("酒店").evidence] == HOTEL[:1]


def test_three_templates_enabled_one_after_another_shape_a_reps_next_leads_in_another_process(
        client, runtime, engine, settings, clock):
    for version, name in enumerate(("real_estate", "saas", "hotel"), start=1):
        assert enable(client, runtime, name, based_on=version - 1 or None).json() == {"version": version}
    other = Runtime(settings, clock=clock, engine=engine)  # a second `serve` on the same database
    assert other.refresh() and other.live.book.version == 3  # what its worker does before each inbox round
    with TestClient(create_app(other, start_workers=False)) as chat:
        asked, card = drive_lead(chat, "新线索 西湖国宾馆 预算500万 决策人孙总董事长 需求阶段:立项审批", {
            "酒店档次": "高端", "客房数": "100-300间", "经营模式": "委托管理", "现用PMS": "石基",
            "业主方": "业主代表", "酒店总经理": "吴磊 总经理", "IT部": "IT经理"})
        assert asked == [*HOTEL, *HOTEL_ROLES] and card["title"] == "✅ 线索已保存 · 西湖国宾馆"
        asked, _ = drive_lead(chat, "新线索 滨江置业 预算3000万 决策人王总CEO 需求阶段:方案评估", {
            "开发阶段": "在建", "土地获取方式": "招拍挂", "项目业态": "住宅",
            "成本采购中心": "李娜 成本总监", "营销中心": "营销总", "工程部": "赵刚 工程总"})
        assert asked[:3] == ["开发阶段", "土地获取方式", "项目业态"]
        asked, _ = drive_lead(chat, "新线索 云帆软件公司 预算80万 决策人陈总CEO 需求阶段:需求调研", {
            "现有系统": "自研系统", "坐席数": "50-500个", "部署方式": "私有化部署", "签约周期": "一年",
            "IT负责人": "CIO", "业务负责人": "周敏 销售总监"})
        assert asked == ["现有系统", "坐席数", "部署方式", "签约周期", "IT负责人", "业务负责人"]
    hotel, contacts = saved_lead(engine, "西湖国宾馆")
    assert hotel.industry == "酒店" and hotel.evidence == {"酒店档次": "高端", "客房数": "100-300间",
                                                          "经营模式": "委托管理", "现用PMS": "石基"}
    assert ("吴磊", "总经理", "酒店总经理") in contacts
    assert saved_lead(engine, "滨江置业")[0].industry == "房地产"
    assert saved_lead(engine, "云帆软件公司")[0].industry == "SaaS"


def test_any_leads_edit_previews_industries_removed_and_words_no_longer_recognised(client, runtime, engine):
    leads = copy.deepcopy(runtime.rules.leads.model_dump(mode="json"))
    leads["industries"] = [i for i in leads["industries"] if i["name"] != "物流"]
    medical = next(i for i in leads["industries"] if i["name"] == "医疗")
    medical["keywords"].remove("诊所")
    checked = client.post("/admin/api/check", params={"t": token(runtime)}, json={"files": {"leads.yaml": leads}}).json()
    assert checked["problems"] == []
    assert "删除行业「物流」（已有商机保留原行业）" in checked["effects"] and "「医疗」不再识别：诊所" in checked["effects"]
    assert versions(engine) == 0
