"""Dashboards: signed links (valid, expired, tampered, foreign → 403) and what a rep vs a manager sees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.demo import populate
from bot.links import LinkRefused, LinkSigner
from bot.runtime import Runtime
from store.db import session_scope
from store.models import Opportunity, ServerSecret, Team, User
from tests.conftest import T0, TZ


@pytest.fixture
def company(runtime, engine):
    populate(engine, runtime.rules, at=T0, tz=TZ)
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def link(runtime, viewer: str, page: str = "home", *, at=T0) -> str:
    return runtime.signer.url(viewer, page, at).removeprefix(runtime.settings.server.public_url)


def owners(engine, team: str) -> set[str]:
    with session_scope(engine) as session:
        team_id = session.execute(select(Team.id).where(Team.name == team)).scalar_one()
        return set(session.execute(select(User.id).where(User.team_id == team_id)).scalars())


def test_a_rep_sees_only_their_own_opportunities(company, runtime, engine):
    data = company.get(link(runtime, "lilei").replace("/dash/", "/dash/api/")).json()
    items = data["pipeline"]["items"]
    assert items and {i["rep"] for i in items} == {"李雷"}
    assert data["scope"] == "我的商机" and data["viewer"]["role"] == "销售"
    assert {i["light"] for i in items} >= {"yellow", "escalated"}
    assert all(set(i["components"]) == {"touches", "files", "feedback", "dwell"} for i in items)
    with session_scope(engine) as session:
        foreign = session.execute(select(Opportunity.id).where(Opportunity.owner_id == "wanglei",
                                                               Opportunity.status == "open")).scalars().first()
    assert foreign not in {i["id"] for i in items}
    assert company.get(link(runtime, "lilei", f"opportunity/{foreign}")).status_code == 403


def test_a_manager_sees_the_team_with_lights_leaderboard_forecast_and_radar(company, runtime, engine):
    data = company.get(link(runtime, "zhangwei").replace("/dash/", "/dash/api/")).json()
    names = {i["rep"] for i in data["pipeline"]["items"]}
    assert names == {"李雷", "王磊", "陈静"} and data["scope"] == "华东一组 团队"
    lights = data["pipeline"]["lights"]
    assert sum(lights["yellow"]) > 0 and sum(lights["escalated"]) > 0
    assert data["leaderboard"]["standings"] and data["leaderboard"]["heatmap"]["categories"]
    assert {r["rep"] for r in data["forecast"]["rows"]} <= names
    assert data["value_radar"]["tags"][0] == runtime.rules.reports.value_tags[0].name


def test_the_page_is_served_with_charts_from_the_app_and_row_links_open_one_opportunity(company, runtime):
    page = company.get(link(runtime, "zhangwei"))
    assert page.status_code == 200 and '<script src="/dash/static/echarts.min.js">' in page.text
    assert "http" not in page.text.split("<script src=")[1].split(">")[0]
    assert company.get("/dash/static/echarts.min.js").headers["content-type"].startswith("application/javascript")
    item = company.get(link(runtime, "zhangwei").replace("/dash/", "/dash/api/")).json()["pipeline"]["items"][0]
    one = company.get(item["href"].replace("/dash/", "/dash/api/")).json()
    assert one["id"] == item["id"] and one["history"] and set(one["components"]) >= {"touches", "dwell"}



def test_recent_touches_say_what_was_sent_messages_included(company, runtime):
    items = company.get(link(runtime, "zhangwei").replace("/dash/", "/dash/api/")).json()["pipeline"]["items"]
    touches = [t for i in items[:20] for t in company.get(i["href"].replace("/dash/", "/dash/api/")).json()["touches"]]
    said = {t["what"] for t in touches if t["kind"] == "消息"}
    assert said and all(said)  # the message's words, where a file or link has its name
    assert all(t["what"] for t in touches)


@pytest.mark.parametrize("spoil, reason", [
    (lambda url: url.replace("t=", "t=x"), "无效"),
    (lambda url: url[:-2] + ("AA" if not url.endswith("AA") else "BB"), "无效"),
    (lambda url: url.replace("/dash/home", "/dash/opportunity/1"), "无权"),
])
def test_tampered_and_foreign_links_are_refused_with_a_chinese_page(company, runtime, spoil, reason):
    answer = company.get(spoil(link(runtime, "lilei")))
    assert answer.status_code == 403 and reason in answer.text and "<html" in answer.text


def test_an_expired_link_is_refused_and_json_says_why(company, runtime):
    stale = link(runtime, "zhangwei", at=T0 - timedelta(days=8))
    assert "已过期" in company.get(stale).text
    answer = company.get(stale.replace("/dash/", "/dash/api/"))
    assert answer.status_code == 403 and "已过期" in answer.json()["detail"]


def test_kanban_command_answers_with_a_signed_link_to_the_viewers_own_dashboard(company, runtime):
    messages = company.post("/sim/api/send", json={"user": "hanmeimei", "text": "看板"}).json()["messages"]
    label, url = messages[-1]["payload"]["card"]["link"]
    assert label == "打开看板" and url.startswith(runtime.settings.server.public_url + "/dash/home?t=")
    data = company.get(url.removeprefix(runtime.settings.server.public_url).replace("/dash/", "/dash/api/")).json()
    assert data["viewer"]["id"] == "hanmeimei" and {i["rep"] for i in data["pipeline"]["items"]} <= {"韩梅梅"}


def test_without_link_secret_one_is_generated_once_and_a_restart_keeps_links_open(runtime, settings, engine):
    url = runtime.signer.url("lilei", "home", T0)
    restarted = Runtime(settings, clock=runtime.clock, engine=engine)
    assert restarted.signer.verify(url.partition("?t=")[2], "home", T0).viewer == "lilei"
    with session_scope(engine) as session:
        [stored] = session.execute(select(ServerSecret)).scalars().all()
    assert stored.name == "link_secret" and len(stored.value) >= 40


def test_an_explicit_link_secret_wins_over_the_stored_one(runtime, settings, engine):
    stored = runtime.signer.url("lilei", "home", T0).partition("?t=")[2]
    explicit = Runtime(settings.model_copy(update={"server": settings.server.model_copy(
        update={"link_secret": "from-the-environment"})}), clock=runtime.clock, engine=engine)
    with pytest.raises(LinkRefused) as refused:
        explicit.signer.verify(stored, "home", T0)
    assert refused.value.reason == "invalid"
    token = explicit.signer.token("lilei", "home", T0)
    assert LinkSigner(b"from-the-environment", "http://x").verify(token, "home", T0).viewer == "lilei"
