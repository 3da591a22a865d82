"""Every handler behaves the same on WeCom and DingTalk: one flow, run over both platforms' real protocols."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.config import load_settings
from store.models import Opportunity
from tests.conftest import DATA
from tests.fakes.dingtalk_gateway import FakeDingTalk
from tests.fakes.wecom_server import FakeWeCom, WeComCallbackSender
from tests.wecom_helpers import URL, sender_for, wecom_settings

PLATFORM_IDS = {"wecom": {"lilei": "lilei"}, "dingtalk": {"lilei": "0123"}}


@dataclass(frozen=True)
class ShownCard:
    title: str
    tokens: list[str]
    ref: str  # what the platform hands back on a click and what an update names
    task: str = ""
    labels: tuple[str, ...] = ()

    def token(self, label: str) -> str:
        return self.tokens[self.labels.index(label)]


class Platform(Protocol):
    """What a test needs of a platform: say something as a user, click, and read what the bot sent."""

    def send(self, user: str, text: str) -> None: ...
    def click(self, user: str, card: ShownCard, token: str) -> None: ...
    def cards(self, user: str) -> list[ShownCard]: ...
    def texts(self, user: str) -> list[str]: ...
    def updated(self) -> list[str]: ...


class WeCom:
    def __init__(self, fake: FakeWeCom, sender: WeComCallbackSender, client: TestClient, stamp: int) -> None:
        self.fake, self.sender, self.client, self.stamp = fake, sender, client, stamp
        self.clicks = 0

    def _post(self, xml: str) -> None:
        params, body = self.sender.encrypt_callback(xml, timestamp=self.stamp)
        answer = self.client.post(self.sender.callback_url(URL, params), content=body)
        assert (answer.status_code, answer.text) == (200, "")

    def send(self, user: str, text: str) -> None:
        self._post(self.sender.text_xml(user, text))

    def click(self, user: str, card: ShownCard, token: str) -> None:
        self.clicks += 1
        self._post(self.sender.template_card_event_xml(user, token, card.task, response_code=card.ref,
                                                       create_time=self.stamp + self.clicks))

    def cards(self, user: str) -> list[ShownCard]:
        sent = [c for c in self.fake.calls("message/send")
                if c.ok and c.json["msgtype"] == "template_card" and c.json["touser"] == user]
        return [ShownCard(c.json["template_card"]["main_title"]["title"],
                          [b["key"] for b in c.json["template_card"].get("button_list", [])],
                          c.response["response_code"], c.json["template_card"]["task_id"],
                          tuple(b["text"] for b in c.json["template_card"].get("button_list", []))) for c in sent]

    def texts(self, user: str) -> list[str]:
        return [m["text"]["content"] for m in self.fake.sent_messages(touser=user, msgtype="text")]

    def updated(self) -> list[str]:
        return [c.json["response_code"] for c in self.fake.calls("message/update_template_card") if c.ok]


class DingTalk:
    def __init__(self, fake: FakeDingTalk) -> None:
        self.fake = fake

    def send(self, user: str, text: str) -> None:
        self.fake.wait_for_ack(self.fake.deliver_chatbot(self.fake.chatbot_text(user, text)))

    def click(self, user: str, card: ShownCard, token: str) -> None:
        self.fake.wait_for_ack(self.fake.deliver_card_callback(card.ref, user, {"token": token}))

    def cards(self, user: str) -> list[ShownCard]:
        created = [c.body["outTrackId"] for c in self.fake.calls("/v1.0/card/instances/createAndDeliver")
                   if c.status == 200 and c.body["openSpaceId"].endswith(f".{user}")]
        shown = []
        for ref in created:
            buttons = json.loads(self.fake.cards[ref]["card_data"]["buttons"])
            shown.append(ShownCard(self.fake.cards[ref]["card_data"]["title"], [b["token"] for b in buttons], ref,
                                   labels=tuple(b["text"] for b in buttons)))
        return shown

    def texts(self, user: str) -> list[str]:
        return [m["msgParam"]["content"] for m in self.fake.robot_messages(user) if m["msgKey"] == "sampleText"]

    def updated(self) -> list[str]:
        """Cards changed for someone: through the update API, or in a click's ACK (the clicker's own view)."""
        by_api = [c.body["outTrackId"] for c in self.fake.calls("/v1.0/card/instances") if c.status == 200]
        by_click = [ref for ref, card in self.fake.cards.items()
                    if any(self.fake.seen_by(ref, user) != card["card_data"] for user in card["private_data"])]
        return by_api + [ref for ref in by_click if ref not in by_api]


@pytest.fixture(params=["wecom", "dingtalk"])
def channel(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def fake(channel: str) -> Iterator[FakeWeCom | FakeDingTalk]:
    if channel == "wecom":
        with FakeWeCom() as wecom:
            yield wecom
        return
    with FakeDingTalk() as dingtalk:
        yield dingtalk


@pytest.fixture
def settings(db_url, channel, fake):
    if channel == "wecom":
        return wecom_settings(db_url, fake)
    return load_settings(environ={}, path=DATA / "config-test.yaml",
                         overrides={"database": {"url": db_url}, "dingtalk": fake.liuhen_config()})


@pytest.fixture
def platform(runtime, channel, fake) -> Iterator[Platform]:
    """The platform's inbound path is live (WeCom's callback route, DingTalk's Stream); the test runs the workers."""
    if channel == "wecom":
        with TestClient(create_app(runtime, start_workers=False)) as client:
            yield WeCom(fake, sender_for(fake), client, int(runtime.clock.now().timestamp()))
        return
    runtime.dingtalk.listen(runtime.inbox.ingest_many, runtime.wake)
    try:
        yield DingTalk(fake)
    finally:
        runtime.dingtalk.close()


def test_help_card_click_sends_it_again_and_marks_the_clicked_card(runtime, channel, platform):
    lilei = PLATFORM_IDS[channel]["lilei"]
    platform.send(lilei, "帮助")
    runtime.work_once()
    [card] = platform.cards(lilei)
    assert card.title == "留痕 · 可用命令" and len(card.tokens) == 1 and card.tokens[0] != "help:again"

    platform.click(lilei, card, card.tokens[0])
    runtime.work_once()
    assert [c.title for c in platform.cards(lilei)] == ["留痕 · 可用命令"] * 2
    assert platform.updated() == [card.ref]
    assert platform.texts(lilei) == []  # nothing else said

    platform.click(lilei, card, card.tokens[0])  # the spent card, clicked again
    runtime.work_once()
    assert platform.texts(lilei) == ["这张卡片已经处理过了。"] and len(platform.cards(lilei)) == 2


def test_a_plain_command_is_answered_with_the_same_text(runtime, channel, platform):
    lilei = PLATFORM_IDS[channel]["lilei"]
    platform.send(lilei, "取消")
    runtime.work_once()
    assert platform.texts(lilei) == ["当前没有进行中的操作。"]


def test_a_lead_is_asked_for_by_cards_and_saved_with_its_tag(runtime, channel, platform):
    """Issue 5's conversation over the platform: typed fields, a button for the rest, the tagged lead saved."""
    lilei = PLATFORM_IDS[channel]["lilei"]
    platform.send(lilei, "新线索 华东医疗器械 医疗 预算800万 决策人王总CTO 需求阶段:方案评估")
    runtime.work_once()
    [asked] = platform.cards(lilei)
    assert asked.title == "新线索 · 医院等级" and "三甲" in asked.labels
    with Session(runtime.engine) as session:
        assert session.exec(select(Opportunity)).all() == []  # a draft until every field is there

    platform.click(lilei, asked, asked.token("三甲"))
    runtime.work_once()
    assert platform.cards(lilei)[-1].title == "新线索 · 设备科"
    platform.send(lilei, "李科长 设备科长")
    runtime.work_once()
    assert [c.title for c in platform.cards(lilei)] == [
        "新线索 · 医院等级", "新线索 · 设备科", "✅ 线索已保存 · 华东医疗器械"]
    with Session(runtime.engine) as session:
        [opportunity] = session.exec(select(Opportunity)).all()
    assert (opportunity.stage, opportunity.owner_id, opportunity.industry) == ("线索", "lilei", "医疗")
    assert opportunity.tags == ["医疗行业-百万级预算-CTO决策"] and opportunity.evidence == {"医院等级": "三甲"}


def overdue_milestone(runtime) -> None:
    """lilei's signed deal whose 首付款 fell due yesterday; the sweep holds the commission and tells both."""
    from datetime import timedelta

    from scheduler import payments
    from store.db import session_scope
    from store.models import PaymentMilestone
    from tests.pipeline_helpers import opportunity

    now = runtime.clock.now()
    opp = opportunity(runtime.engine, customer="华东医疗器械", stage="合同签署", at=now - timedelta(days=30))
    with session_scope(runtime.engine) as session:
        session.add(PaymentMilestone(opportunity_id=opp, label="首付款", due_on=(now - timedelta(days=1)).date(),
                                     amount=300_000))
    with session_scope(runtime.engine) as session:
        assert payments.run(session, now, runtime.rules, runtime.clock.tz) == 2


def test_the_managers_hold_card_becomes_the_release_in_place(runtime, channel, platform, fake):
    """Issue 16, point 2: the card the manager got when the commission was held is redrawn when the money arrives —
    WeCom with the ResponseCode its message/send returned, DingTalk by the card's outTrackId — not a second card."""
    lilei, zhangwei = (PLATFORM_IDS[channel]["lilei"], {"wecom": "zhangwei", "dingtalk": "0101"}[channel])
    overdue_milestone(runtime)
    runtime.work_once()
    [held] = platform.cards(zhangwei)
    assert held.title == "⛔ 回款逾期：提成已暂扣" and held.labels == ("提醒TA跟进",)

    platform.send(lilei, "回款 华东医疗器械 30万")
    runtime.work_once()
    runtime.work_once()
    assert platform.updated() == [held.ref]
    assert len(platform.cards(zhangwei)) == 1  # no second card
    if channel == "wecom":
        assert fake.card_updates()[-1]["template_card"]["main_title"]["title"] == "✅ 回款已到，提成暂扣已解除"
    else:
        assert fake.cards[held.ref]["card_data"]["title"] == "✅ 回款已到，提成暂扣已解除"


def test_the_manager_nudges_the_rep_from_the_hold_card(runtime, channel, platform):
    lilei, zhangwei = (PLATFORM_IDS[channel]["lilei"], {"wecom": "zhangwei", "dingtalk": "0101"}[channel])
    overdue_milestone(runtime)
    runtime.work_once()
    [held] = platform.cards(zhangwei)
    platform.click(zhangwei, held, held.token("提醒TA跟进"))
    runtime.work_once()
    runtime.work_once()
    nudged = platform.cards(lilei)[-1]
    assert nudged.title == "📣 主管提醒：请跟进回款" and nudged.labels == ("录入回款",)
    assert platform.updated() == [held.ref]
