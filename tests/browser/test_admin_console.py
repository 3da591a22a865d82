"""The admin console in Chromium against a real `liuhen serve` child process (SQLite, configured by its file, WeCom
faked): a changed yellow threshold is pushed by the running server's own scheduler without a restart, an invalid
value is refused inline, a rollback restores the earlier rule, and a rep's link is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlmodel import Session

from bot import orgfile
from bot.links import ADMIN, LinkSigner
from rules.loader import rule_texts
from store import migrate
from store.db import make_engine
from store.models import RuleVersion
from tests.browser.conftest import shot
from tests.fakes.wecom_server import FakeWeCom
from tests.pipeline_helpers import opportunity
from tests.reliability.harness import LINK_SECRET, Server, fake_wecom, liuhen, seed_org, write_config
from tests.waiting import wait_until

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
STAGE = 2  # 方案演示: yellow after 5 days in the shipped rules
FIELD = f'[data-file="stages.yaml"][data-path="stages[{STAGE}].yellow_days"]'
SWEEP_WAIT = 150.0  # the serve's stage_lights sweep runs every minute here; a loaded 2-core machine is slow


@pytest.fixture(scope="module")
def wecom() -> Iterator[FakeWeCom]:
    with fake_wecom() as fake:
        yield fake


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, wecom: FakeWeCom) -> Iterator[tuple[Server, Path, str]]:
    """`liuhen serve` whose rules_dir runs the stage-lights sweep every minute; an admin `boss` beside the reps."""
    root = tmp_path_factory.mktemp("admin")
    db_url = f"sqlite:///{root / 'liuhen.db'}"
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    engine.dispose()
    seed_org(db_url)
    engine = make_engine(db_url)
    with Session(engine) as session:
        orgfile.apply(session, [], [{"id": "boss", "name": "管理员", "role": "admin"}])
        session.commit()
    engine.dispose()
    rules = root / "rules"
    rules.mkdir()
    notify = rule_texts()["notify.yaml"].replace('stage_lights: "0 9,14 * * *"', 'stage_lights: "* * * * *"')
    (rules / "notify.yaml").write_text(notify, encoding="utf-8")
    config = write_config(root / "config.yaml", db_url, wecom=wecom)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    config.write_text(yaml.safe_dump({**data, "rules_dir": str(rules)}, allow_unicode=True), encoding="utf-8")
    server = Server(config, root).start()
    yield server, config, db_url
    server.stop()


def versions(db_url: str) -> int:
    engine = make_engine(db_url)
    with Session(engine) as session:
        count = session.execute(select(func.count()).select_from(RuleVersion)).scalar_one()
    engine.dispose()
    return count


def stalled(db_url: str, rep: str, customer: str) -> None:
    """An open 方案演示 deal of `rep` last updated 4 days ago: green at 5 days, yellow at 3."""
    engine = make_engine(db_url)
    opportunity(engine, customer=customer, owner=rep, stage="方案演示", at=datetime.now(UTC) - timedelta(days=4, hours=1))
    engine.dispose()


def yellow_cards(wecom: FakeWeCom, rep: str) -> list[dict]:
    cards = wecom.wait_for_messages(1, SWEEP_WAIT, touser=rep, msgtype="template_card")
    return [c["template_card"] for c in cards if "商机停滞提醒" in c["template_card"]["main_title"]["title"]]


def admin_link(server: Server, config: Path) -> str:
    """`liuhen admin link boss`, pointed at the child's port (its public_url is the default)."""
    printed = liuhen("admin", "link", "boss", config=config).strip()
    return server.base_url + "/admin" + printed.split("/admin", 1)[1]


def open_console(browser, url: str, viewport: dict, page_id: str = "stages"):
    page = browser.new_page(viewport=viewport)
    page.goto(url)
    page.click(f"#nav-{page_id}")
    return page


def save(page, why: str, expect: str) -> None:
    page.fill("#why", why)
    page.click("#save")
    page.wait_for_selector(f"#msg:has-text('{expect}')")


def test_a_changed_yellow_threshold_is_pushed_by_the_running_server(browser, served, wecom):
    server, config, db_url = served
    stalled(db_url, "rep01", "华东医疗器械有限公司")
    page = open_console(browser, admin_link(server, config), DESKTOP)
    page.fill(f"{FIELD} input", "3")
    page.wait_for_selector("#check li:has-text('1 个进行中的商机将由绿灯变为黄灯')")
    shot(page, "admin-stages")
    save(page, "方案演示阶段 3 天亮黄灯", "已保存为版本 #1")
    assert "版本 #1" in page.inner_text("#version")
    wait_until(lambda: server.health()["rules_version"] == 1, 30, "the server to take up version 1")

    [card] = yellow_cards(wecom, "rep01")  # sent by the server's own minute sweep, no restart
    assert "4 天没有更新（3 天亮黄灯" in card["sub_title_text"]
    page.click("#nav-leads")  # lists of objects inside lists: industries, each with its evidence questions
    page.wait_for_selector('[data-file="leads.yaml"][data-path="industries[0].evidence"]')
    shot(page, "admin-leads")
    page.close()


def test_an_invalid_value_is_refused_inline_on_a_phone_and_nothing_is_saved(browser, served):
    server, config, db_url = served
    before = versions(db_url)
    page = open_console(browser, admin_link(server, config), PHONE)
    page.fill(f"{FIELD} input", "0")
    page.wait_for_selector(f"{FIELD} .err:has-text('应不小于 1')")
    page.fill("#why", "试试 0 天")
    page.click("#save")
    page.wait_for_selector("#msg:has-text('保存被拒绝')")
    assert page.locator(f"{FIELD} .err").inner_text() == "应不小于 1"
    assert "阶段与红绿灯 › 阶段 › 第 3 项 › 黄灯天数：应不小于 1" in page.inner_text("#check")
    page.eval_on_selector(FIELD, "node => node.scrollIntoView({block: 'center'})")
    shot(page, "admin-invalid")
    assert versions(db_url) == before
    page.click("#nav-modules")
    shot(page, "admin-modules")
    page.close()


def test_a_rollback_restores_the_earlier_threshold_in_the_running_server(browser, served, wecom):
    """Rolls back to a version with 3 days (the first test's, or one saved here when this test has the server to
    itself: xdist may run it in another worker)."""
    server, config, db_url = served
    page = open_console(browser, admin_link(server, config), DESKTOP)
    if versions(db_url) == 0:
        page.fill(f"{FIELD} input", "3")
        save(page, "方案演示阶段 3 天亮黄灯", "已保存为版本 #1")
    earlier = versions(db_url)
    page.fill(f"{FIELD} input", "6")
    page.wait_for_selector("#check li:has-text('修改了：阶段与红绿灯')")
    save(page, "放宽到 6 天", f"已保存为版本 #{earlier + 1}")
    wait_until(lambda: server.health()["rules_version"] == earlier + 1, 30, "the server to take up the 6-day rule")
    stalled(db_url, "rep02", "华北重工集团")  # green under 6 days

    page.click("#nav-history")
    page.click(f"tr[data-version='{earlier}'] button.restore")
    page.wait_for_selector(f"#msg:has-text('已恢复版本 #{earlier} 的规则，保存为版本 #{earlier + 2}')")
    assert page.locator(f"tr[data-version='{earlier + 2}'] .tag").all_inner_texts() == [f"恢复自 #{earlier}", "当前"]
    shot(page, "admin-history")
    wait_until(lambda: server.health()["rules_version"] == earlier + 2, 30, "the server to take up the rollback")
    [card] = yellow_cards(wecom, "rep02")
    assert "3 天亮黄灯" in card["sub_title_text"]
    page.close()


def test_a_reps_link_to_the_console_is_refused(browser, served):
    server, _, db_url = served
    before = versions(db_url)
    url = LinkSigner(LINK_SECRET.encode(), server.base_url).url("rep01", ADMIN, datetime.now(UTC))
    page = browser.new_page(viewport=PHONE)
    answer = page.goto(url)
    assert answer.status == 403 and "只有管理员" in page.inner_text("#reason")
    assert "无法打开管理后台" in page.inner_text("h1")
    shot(page, "admin-refused")
    assert versions(db_url) == before
    page.close()
