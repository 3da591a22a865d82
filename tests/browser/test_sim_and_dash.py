"""End to end in Chromium: a PDF becomes an acknowledged touch, dashboards open or refuse, 快进 7 天 escalates (last: it moves the clock)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from store.db import session_scope
from store.models import Checklist, Customer, Opportunity, Touch
from tests.browser.conftest import shot

PDF = b"%PDF-1.4\n% liuhen demo\n"
PHONE = {"width": 375, "height": 812}
WAIT = 20_000
TICKED = "n => [...([...document.querySelectorAll('.card')].pop()?.querySelectorAll('.l') || [])]" \
         ".filter(line => line.textContent.startsWith('☑')).length === n"  # ticked lines on the newest card  # ms; the touch ack is held ack_delay_seconds (10) to merge a burst


def open_sim(browser, base: str, user: str, **context):
    page = browser.new_page(**context)
    page.goto(f"{base}/sim?user={user}")
    page.wait_for_selector(".chat-item", state="attached")
    return page


def test_a_rep_sends_a_pdf_in_the_customer_group_and_sees_the_touch_acknowledged(browser, demo):
    base, runtime = demo
    page = open_sim(browser, base, "lilei")
    group = page.locator(".chat-item", has_text="客户群").first
    group.click()
    page.set_input_files("#file", files=[{"name": "报价方案.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.wait_for_selector(".row.in .bubble:has-text('📎 报价方案.pdf')")
    page.locator(".chat-item", has_text="留痕助手").click()
    page.wait_for_selector(".bubble:has-text('已记录有效触达')", timeout=WAIT)
    shot(page, "sim-touch")
    with session_scope(runtime.engine) as session:
        touch = session.execute(select(Touch).where(Touch.filename == "报价方案.pdf")).scalar_one()
        assert (touch.kind, touch.valid, touch.source, touch.rep_id) == ("pdf", True, "local", "lilei")
        assert touch.customer_id is not None and touch.evidence["linked_by"] == "chat"
    page.close()


def test_the_dashboard_link_from_a_card_opens_the_teams_lights_on_a_phone(browser, demo):
    base, _ = demo
    page = open_sim(browser, base, "zhangwei", viewport=PHONE)
    page.fill("#text", "看板")
    page.press("#text", "Enter")
    href = page.locator(".card:has-text('留痕看板') a").last.get_attribute("href")
    page.goto(href)
    page.wait_for_selector(".opp .dot.escalated")
    assert "华东一组" in page.inner_text("#title")
    assert page.locator("#c-lights canvas").count() == 1
    reps = set(page.locator("#opps div small").all_inner_texts())
    assert reps and all(any(name in line for name in ("李雷", "王磊", "陈静")) for line in reps)
    assert set(page.locator("#opps .score small").all_inner_texts()) == {"健康度"}
    shot(page, "dash-team")
    page.locator(".opp").first.click()
    page.wait_for_selector("#c-components canvas")
    shot(page, "dash-opportunity")
    page.close()


def test_expired_and_foreign_links_are_refused_with_a_chinese_page(browser, demo):
    base, runtime = demo
    signer, now = runtime.signer, runtime.clock.now()
    with session_scope(runtime.engine) as session:
        foreign = session.execute(select(Opportunity.id).where(Opportunity.owner_id == "wanglei")).scalars().first()
    page = browser.new_page(viewport=PHONE)
    answer = page.goto(signer.url("lilei", "home", now - timedelta(days=8)))
    assert answer.status == 403 and "已过期" in page.inner_text("#reason")
    shot(page, "dash-refused")
    answer = page.goto(signer.url("lilei", f"opportunity/{foreign}", now))
    assert answer.status == 403 and "无权" in page.inner_text("#reason")
    page.close()


def test_a_deal_named_after_its_customer_shows_the_name_once(browser, demo):
    base, runtime = demo
    signer, now = runtime.signer, runtime.clock.now()
    with session_scope(runtime.engine) as session:
        deal = session.execute(select(Opportunity).where(Opportunity.owner_id == "lilei",
                                                         Opportunity.status == "open")).scalars().first()
        name = session.get(Customer, deal.customer_id).name
        deal.name, deal_id = name, deal.id  # how 新线索 in chat names a deal
    page = browser.new_page(viewport=PHONE)
    page.goto(signer.url("lilei", f"opportunity/{deal_id}", now))
    page.wait_for_selector("#c-components canvas")
    assert page.inner_text("#title") == name and name not in page.inner_text("#sub")
    page.goto(signer.url("lilei", "home", now))
    page.wait_for_selector(".opp")
    assert page.locator(".opp", has_text=name).first.inner_text().count(name) == 1
    page.close()


def test_on_a_phone_the_simulator_keeps_its_switcher_chats_and_one_line_of_controls(browser, demo):
    base, _ = demo
    page = open_sim(browser, base, "hanmeimei", viewport=PHONE)
    assert page.locator("#users").is_visible() and page.locator(".chat-item").first.is_visible()
    tops = {round(page.locator(sel).bounding_box()["y"]) for sel in ("#attach", "#linkbtn", "#text", "form > button:last-child")}
    assert len(tops) == 1  # 文件, 链接, the input and 发送 share one line
    widest = page.evaluate("document.documentElement.scrollWidth")
    assert widest <= PHONE["width"]
    page.wait_for_selector(".hint")
    assert "可以试试" in page.inner_text(".hint") and page.locator(".hint button", has_text="帮助").count() == 1
    page.locator(".hint button", has_text="帮助").click()
    assert page.input_value("#text") == "帮助"
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.fill("#text", "长" * 20_001)
    page.press("#text", "Enter")
    page.wait_for_selector("#notice.error")
    assert page.inner_text("#notice") == "消息太长：最多 20000 字，这条有 20001 字。请分几条发送。" and not dialogs
    assert page.input_value("#text") == "长" * 20_001  # kept, so the rep can shorten it
    page.close()


def test_a_visit_checklist_is_ticked_item_by_item_and_completed_on_a_phone(browser, demo):
    base, runtime = demo
    with session_scope(runtime.engine) as session:
        customer = session.execute(select(Customer).where(Customer.owner_id == "wanglei")).scalars().first().name
    page = open_sim(browser, base, "wanglei", viewport=PHONE)
    page.fill("#text", f"拜访 {customer}")
    page.press("#text", "Enter")
    card = page.locator(".card:has-text('客户攻坚清单')").last
    card.wait_for()
    items = card.locator("button:not(.primary)")
    count = min(items.count(), 3)
    assert count >= 2
    for n in range(count):  # each tick redraws the card in place; its buttons stay usable
        card.locator("button:not(.primary)").nth(n).click()
        page.wait_for_function(TICKED, arg=n + 1)
    card = page.locator(".card:has-text('客户攻坚清单')").last
    assert card.locator("button.primary").is_enabled()
    card.locator("button.primary").click()  # 完成拜访
    page.wait_for_selector(".card:has-text('已完成拜访')")
    with session_scope(runtime.engine) as session:
        done = session.execute(select(Checklist).where(Checklist.rep_id == "wanglei")).scalars().one()
        assert done.completed_at is not None and sum(i["done"] for i in done.items) == count
    page.close()


def test_a_manager_fast_forwards_a_week_gets_the_escalation_and_marks_it_followed(browser, demo):
    base, _ = demo
    page = open_sim(browser, base, "zhangwei")
    page.click("button.ff[data-days='7']")
    page.wait_for_selector("#notice:has-text('已快进 7 天')")
    page.click(".card:has-text('商机红绿灯提醒') button:has-text('逐条处理')")
    escalation = page.locator(".card:has-text('商机升级')").first
    escalation.wait_for()
    shot(page, "sim-escalation")
    card_id = escalation.get_attribute("data-id")
    escalation.locator("button:has-text('已跟进')").click()
    page.wait_for_selector(f".card.updated[data-id='{card_id}']")  # answered: its buttons are spent
    page.close()
