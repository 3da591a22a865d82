"""A clicked WeCom card is updated once per ResponseCode: the handler's new card, else greyed-out buttons."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot import cards
from bot.app import create_app
from bot.cards import Button, Card, Reply
from store.models import Checklist, Contact, Customer
from tests.conversation import seed_customer
from tests.wecom_helpers import URL, fake, outbox, sender, settings, signed  # noqa: F401 (fixtures)


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def send_card(runtime, fake, *buttons: Button) -> str:
    """Sends lilei a card with `buttons`; returns its task_id."""
    with Session(runtime.engine) as session:
        cards.queue(session, Reply.show(Card(title="联系人职务", lines=["王明 是 CTO 吗？"], buttons=list(buttons)),
                                        to_user="lilei"), dedupe_key="card", now=runtime.clock.now(), channel="wecom")
        session.commit()
    runtime.dispatcher.run_once()
    [sent] = fake.sent_messages(touser="lilei", msgtype="template_card")
    return sent["template_card"]["task_id"]


def contact_button(runtime) -> Button:
    """「保留」 on a contact question: its handler answers with `Reply.update` (a new card, no buttons)."""
    with Session(runtime.engine) as session:
        customer = Customer(name="华东医疗", owner_id="lilei")
        session.add(customer)
        session.flush()
        contact = Contact(customer_id=customer.id, name="王明", title="CTO")
        session.add(contact)
        session.commit()
        return Button("保留", "reports:contact", {"contact": contact.id, "title": None})


def click(client, runtime, sender, fake, task_id: str, index: int = 0) -> str:
    """lilei clicks button `index` of card `task_id` as WeCom delivers it; returns the click's ResponseCode."""
    key = fake.card_view("lilei", task_id).content["button_list"][index]["key"]
    code = fake.click("lilei", task_id)
    params, body = signed(sender, runtime.clock, sender.template_card_event_xml("lilei", key, task_id,
                                                                                 response_code=code))
    assert client.post(URL, params=params, content=body).status_code == 200
    return code


def test_a_handlers_update_is_the_new_card_sent_with_the_clicks_single_code(client, runtime, fake, sender):
    task_id = send_card(runtime, fake, contact_button(runtime))
    code = click(client, runtime, sender, fake, task_id)
    for _ in range(3):
        runtime.work_once()
    [update] = [c.json for c in fake.calls("message/update_template_card")]  # one call, and it was accepted
    assert update["response_code"] == code and "button" not in update
    seen = fake.card_view("lilei", task_id)
    assert seen.content["sub_title_text"] == "已保留 王明 原来的职务「CTO」。" and not seen.clickable
    assert seen.content["replace_text"] == "已处理"
    marker = [r for r in outbox(runtime.engine) if r.dedupe_key.startswith("wecom:answered:")]
    assert [(r.status, r.platform_ref) for r in marker] == [("sent", "superseded")]


def test_without_a_handler_update_the_clicked_buttons_turn_grey(client, runtime, fake, sender):
    task_id = send_card(runtime, fake, Button("再看一遍", "help:again"))
    code = click(client, runtime, sender, fake, task_id)
    for _ in range(3):
        runtime.work_once()
    [update] = [c.json for c in fake.calls("message/update_template_card")]
    assert update == {"agentid": fake.agent_id, "response_code": code, "userids": ["lilei"],
                      "button": {"replace_name": "已处理"}}
    seen = fake.card_view("lilei", task_id)
    assert seen.button_text == "已处理" and not seen.clickable
    assert fake.card_updates() == [update]


def test_the_marker_waits_until_the_click_is_handled(client, runtime, fake, sender):
    task_id = send_card(runtime, fake, contact_button(runtime))
    click(client, runtime, sender, fake, task_id)
    runtime.dispatcher.run_once()  # the inbox has not run: the marker must not spend the code yet
    assert fake.calls("message/update_template_card") == []
    [marker] = [r for r in outbox(runtime.engine) if r.dedupe_key.startswith("wecom:answered:")]
    assert (marker.status, marker.attempts) == ("pending", 0)
    runtime.clock.advance(timedelta(seconds=2))
    runtime.work_once()
    runtime.work_once()
    assert len(fake.card_updates()) == 1 and "template_card" in fake.card_updates()[0]


def test_a_code_older_than_72_hours_is_not_used(client, runtime, fake, sender):
    task_id = send_card(runtime, fake, Button("再看一遍", "help:again"))
    click(client, runtime, sender, fake, task_id)
    runtime.inbox.process_pending()
    runtime.clock.advance(timedelta(hours=72, seconds=1))
    runtime.dispatcher.run_once()
    assert fake.calls("message/update_template_card") == []
    [marker] = [r for r in outbox(runtime.engine) if r.dedupe_key.startswith("wecom:answered:")]
    assert marker.status == "failed" and "72 小时" in marker.last_error


def test_a_checklist_is_ticked_then_completed_each_click_spending_its_own_code(client, runtime, fake, sender):
    with Session(runtime.engine) as session:
        seed_customer(session, "华东医疗器械有限公司", aliases=["华东医疗"], updated=runtime.clock.now())
    params, body = signed(sender, runtime.clock, sender.text_xml("lilei", "拜访 华东医疗"))
    assert client.post(URL, params=params, content=body).status_code == 200
    runtime.work_once()
    [sent] = fake.sent_messages(touser="lilei", msgtype="template_card")
    task_id = sent["template_card"]["task_id"]
    click(client, runtime, sender, fake, task_id, index=0)  # tick the first item
    for _ in range(3):
        runtime.work_once()
    ticked = fake.card_view("lilei", task_id)
    assert ticked.clickable and ticked.content["button_list"][0]["text"].startswith("☑")  # still usable
    click(client, runtime, sender, fake, task_id, index=len(ticked.content["button_list"]) - 1)  # 完成拜访
    for _ in range(3):
        runtime.work_once()
    assert not fake.card_view("lilei", task_id).clickable
    with Session(runtime.engine) as session:
        [checklist] = session.exec(select(Checklist)).all()
    assert checklist.completed_at is not None and [item["done"] for item in checklist.items] == [True]
    codes = [c.json["response_code"] for c in fake.calls("message/update_template_card")]
    assert len(codes) == len(set(codes)) == 2  # one update per click, each with its own code


def sent_card(runtime, fake, title: str) -> int:
    """A card with a button sent to lilei (so message/send returns a ResponseCode); returns its outbox id."""
    with Session(runtime.engine) as session:
        row_id = cards.queue(session, Reply.show(Card(title=title, lines=["正文"], buttons=[Button("再看一遍", "help:again")]),
                                                 to_user="lilei"), dedupe_key=f"sent:{title}", now=runtime.clock.now())
        session.commit()
    runtime.dispatcher.run_once()
    return row_id


def replace(runtime, row_id: int, title: str) -> None:
    with Session(runtime.engine) as session:
        cards.queue(session, Reply.replace(Card(title=title, lines=["新的正文"]), outbox_id=row_id, to_user="lilei"),
                    dedupe_key=f"replace:{title}", now=runtime.clock.now())
        session.commit()
    runtime.dispatcher.run_once()
    runtime.dispatcher.run_once()


def titles_sent(fake) -> list[str]:
    """The titles of the cards lilei got as messages (a card with no button arrives as markdown)."""
    return [m["template_card"]["main_title"]["title"] if m["msgtype"] == "template_card"
            else m["markdown"]["content"].splitlines()[0].strip("*# ") for m in fake.sent_messages(touser="lilei")]


def test_a_card_is_redrawn_unprompted_with_the_code_its_send_returned(runtime, fake):
    row_id = sent_card(runtime, fake, "⛔ 逾期")
    [send] = [c for c in fake.calls("message/send") if c.ok]
    replace(runtime, row_id, "✅ 已解除")
    [update] = [c.json for c in fake.calls("message/update_template_card") if c.ok]
    assert update["response_code"] == send.response["response_code"]
    assert update["template_card"]["main_title"]["title"] == "✅ 已解除"
    assert titles_sent(fake) == ["⛔ 逾期"]


def test_past_72_hours_the_redrawn_card_is_sent_as_a_new_message(runtime, fake):
    row_id = sent_card(runtime, fake, "⛔ 逾期")
    runtime.clock.set(runtime.clock.now() + timedelta(hours=73))
    replace(runtime, row_id, "✅ 已解除")
    assert fake.calls("message/update_template_card") == []
    assert titles_sent(fake) == ["⛔ 逾期", "✅ 已解除"]


def test_a_code_the_platform_refuses_turns_the_update_into_a_new_card(runtime, fake):
    """WeCom takes a ResponseCode once (errcode 40058 after): the second redraw is not lost, it arrives anew."""
    row_id = sent_card(runtime, fake, "⛔ 逾期")
    replace(runtime, row_id, "第一次更新")
    replace(runtime, row_id, "第二次更新")
    assert [c.ok for c in fake.calls("message/update_template_card")] == [True, False]
    assert titles_sent(fake) == ["⛔ 逾期", "第二次更新"]
