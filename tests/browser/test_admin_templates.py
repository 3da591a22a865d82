"""The 行业模板 page in Chromium against the seeded demo served by uvicorn: an admin enables three templates one after
the other (desktop and phone), each previewed before saving; then a rep's leads, typed in chat through the running
app, are recognised as those industries and asked their evidence."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from bot.links import ADMIN
from store.db import session_scope
from store.models import RuleVersion
from tests.browser.conftest import shot
from tests.conversation import drive_lead, saved_lead

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


def versions(runtime) -> int:
    with session_scope(runtime.engine) as session:
        return session.execute(select(func.count()).select_from(RuleVersion)).scalar_one()


def open_templates(browser, runtime, viewport: dict, viewer: str = "admin"):
    page = browser.new_page(viewport=viewport)
    page.goto(runtime.signer.url(viewer, ADMIN, runtime.clock.now()))
    page.click("#nav-templates")
    page.wait_for_selector("#template-hotel")
    return page


def preview(page, name: str, expect: str) -> None:
    page.click(f"#template-{name} button.enable")
    page.wait_for_selector(f"#check li:has-text('{expect}')")


def enable(page, name: str, label: str, version: int) -> None:
    page.click("#save")
    page.wait_for_selector(f"#msg:has-text('已启用行业模板「{label}」，保存为版本 #{version}')")
    assert page.inner_text(f"#template-{name} .tag") == "已启用"
    assert page.is_hidden("#save") and page.is_hidden("#why")  # nothing left to save until the next 启用


def test_an_admin_enables_three_templates_and_a_reps_leads_follow_them(browser, demo):
    base, runtime = demo
    start = versions(runtime)
    page = open_templates(browser, runtime, DESKTOP)
    assert page.locator(".card").count() >= 30 and page.inner_text("#template-hotel .tag") == "未启用"
    assert page.inner_text("#template-internet button.enable") == "重新启用"  # the shipped 互联网 is not the template's
    assert "重置为模板内容" in page.inner_text("#template-internet")
    assert page.inner_text("#template-internet .tag") == "已有同名行业（与模板不同）"
    page.fill("#filter", "宾馆")
    assert page.locator(".card:visible").count() == 1 and page.is_visible("#template-hotel")
    page.fill("#filter", "")

    preview(page, "real_estate", "新增行业「房地产」")
    assert page.inner_text("#save") == "启用「房地产」并保存为新版本" and "房地产" in page.input_value("#why")
    enable(page, "real_estate", "房地产", start + 1)
    preview(page, "saas", "「互联网」的识别词 软件、SaaS、云服务 改为识别为「SaaS」")
    page.eval_on_selector("#template-saas", "node => node.scrollIntoView({block: 'center'})")
    shot(page, "admin-templates")
    enable(page, "saas", "SaaS", start + 2)
    page.close()

    phone = open_templates(browser, runtime, PHONE)
    preview(phone, "hotel", "新增行业「酒店」")
    shot(phone, "admin-templates-phone")
    phone.fill("#why", " ")
    phone.click("#save")
    phone.wait_for_selector("#msg:has-text('请填写修改说明')")
    assert versions(runtime) == start + 2
    phone.fill("#why", "开拓酒店客户")
    enable(phone, "hotel", "酒店", start + 3)
    phone.click("#nav-leads")  # the enabled industry is edited like any other on the leads page
    phone.wait_for_selector('[data-file="leads.yaml"] .row-head:has-text("酒店")')
    phone.close()

    with httpx.Client(base_url=base, timeout=30) as chat:  # the running app's own simulator API
        asked, card = drive_lead(chat, "新线索 西湖国宾馆 预算500万 决策人孙总董事长 需求阶段:立项审批", {
            "酒店档次": "高端", "客房数": "100-300间", "经营模式": "委托管理", "现用PMS": "石基",
            "业主方": "业主代表", "酒店总经理": "吴磊 总经理", "IT部": "IT经理"})
        assert asked == ["酒店档次", "客房数", "经营模式", "现用PMS", "业主方", "酒店总经理", "IT部"]
        assert card["title"] == "✅ 线索已保存 · 西湖国宾馆"
        asked, _ = drive_lead(chat, "新线索 滨江置业 预算3000万 决策人王总CEO 需求阶段:方案评估", {
            "开发阶段": "在建", "土地获取方式": "招拍挂", "项目业态": "住宅",
            "成本采购中心": "李娜 成本总监", "营销中心": "营销总", "工程部": "赵刚 工程总"})
        assert asked == ["开发阶段", "土地获取方式", "项目业态", "成本采购中心", "营销中心", "工程部"]
        asked, _ = drive_lead(chat, "新线索 云帆软件公司 预算80万 决策人陈总CEO 需求阶段:需求调研 现有系统：自研系统", {
            "坐席数": "50-500个", "部署方式": "私有化部署", "签约周期": "一年", "IT负责人": "CIO", "业务负责人": "周敏 销售总监"})
        assert asked == ["坐席数", "部署方式", "签约周期", "IT负责人", "业务负责人"]
    assert [saved_lead(runtime.engine, name)[0].industry for name in ("西湖国宾馆", "滨江置业", "云帆软件公司")] == [
        "酒店", "房地产", "SaaS"]
    assert saved_lead(runtime.engine, "西湖国宾馆")[0].evidence["现用PMS"] == "石基"


def test_a_reps_link_gets_no_catalogue_and_enables_nothing(browser, demo):
    base, runtime = demo
    before = versions(runtime)
    t = runtime.signer.token("lilei", ADMIN, runtime.clock.now())
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/admin/api/templates", params={"t": t}).status_code == 403
        answer = client.post("/admin/api/templates/enable", params={"t": t},
                             json={"name": "hotel", "why": "试试", "based_on": before or None})
        assert answer.status_code == 403 and "只有管理员" in answer.json()["detail"]
    page = browser.new_page(viewport=PHONE)
    assert page.goto(runtime.signer.url("lilei", ADMIN, runtime.clock.now())).status == 403
    assert versions(runtime) == before
    page.close()
