"""`liuhen serve` as a real child process, configured only by its config file, against the fake WeCom.

Nothing of ours or of wechatpy is patched: the child reaches the fake through `wecom.api_base`, and the fake
refuses what WeCom refuses (markdown over 2048 bytes, a ResponseCode used twice or after 72 h, invalid cards).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from bot import cards
from bot.cards import Reply
from store.db import make_engine
from tests.fakes.wecom_server import FakeWeCom
from tests.reliability.harness import Server, fake_wecom, seed_org, write_config
from tests.waiting import wait_until
from tests.wecom_helpers import URL, sender_for

MEMBER = "rep01"
WAIT = 60.0  # a loaded 2-core machine; passing runs take a few seconds


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    with fake_wecom() as fake:
        yield fake


@pytest.fixture
def server(db_url: str, wecom: FakeWeCom, tmp_path: Path) -> Iterator[Server]:
    seed_org(db_url)
    child = Server(write_config(tmp_path / "config.yaml", db_url, wecom=wecom), tmp_path)
    child.start().wait_warm()
    yield child
    child.stop()


def help_cards(wecom: FakeWeCom, count: int) -> list[dict]:
    return [m["template_card"] for m in wecom.wait_for_messages(count, WAIT, touser=MEMBER, msgtype="template_card")]


def test_help_click_rate_limit_and_long_markdown_through_the_real_process(server, wecom, db_url):
    sender = sender_for(wecom)
    wecom.fail_next("message/send", 45033)  # WeCom's concurrency limit: back off 5 s, then deliver
    [answer] = sender.post(server.base_url + URL, sender.text_xml(MEMBER, "帮助"))
    assert (answer.status_code, answer.text) == (200, "")  # WeCom's documented empty acknowledgement

    [card] = help_cards(wecom, 1)
    assert card["main_title"]["title"] == "留痕 · 可用命令" and "帮助" in card["sub_title_text"]
    sends = wecom.calls("message/send")
    assert [c.errcode for c in sends] == [45033, 0] and sends[0].json == sends[1].json
    assert sends[1].at - sends[0].at >= 4.5  # the pause WeCom's 45033 asks for, not a tight loop

    task_id = card["task_id"]
    code = wecom.click(MEMBER, task_id)
    click = sender.template_card_event_xml(MEMBER, card["button_list"][0]["key"], task_id, response_code=code)
    [answer] = sender.post(server.base_url + URL, click)
    assert (answer.status_code, answer.text) == (200, "")
    wait_until(lambda: wecom.card_view(MEMBER, task_id).button_text, WAIT, "the clicked card to be marked")
    seen = wecom.card_view(MEMBER, task_id)
    assert seen.button_text == "已处理" and not seen.clickable  # what the clicker now sees
    assert help_cards(wecom, 2)[1]["main_title"]["title"] == "留痕 · 可用命令"  # 「再看一遍」 answered
    assert [c.errcode for c in wecom.calls("message/update_template_card")] == [0]  # the code spent once

    lines = [f"第{n:03d}条：华东医疗 方案演示后的跟进记录与下一步计划。" for n in range(100)]  # ≈ 7 KB
    engine = make_engine(db_url)
    with Session(engine) as session:  # queued as any producer (a sweep, another process) queues a reply
        cards.queue(session, Reply.markdown("\n".join(lines), to_user=MEMBER), dedupe_key="long-markdown",
                    now=datetime.now(UTC))
        session.commit()
    engine.dispose()
    parts = wecom.wait_for_messages(4, WAIT, touser=MEMBER, msgtype="markdown")
    assert all(len(p["markdown"]["content"].encode()) <= 2048 for p in parts)
    assert "\n".join(p["markdown"]["content"] for p in parts) == "\n".join(lines)
    assert not [c for c in wecom.calls("message/send") if c.errcode == 40058]

