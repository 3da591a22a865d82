"""Access control across the app (issue 11.5): a rep sees only their own customers, a manager their team's,
an admin all — in chat commands, card clicks, group chats, dashboards and exports — and every read of customer
data by a manager lands in the audit log, which keeps the fact but not the content after a purge."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from bot.app import create_app
from bot.cli import main
from store.db import session_scope
from store.models import (
    AuditLog,
    BehaviorLog,
    Checklist,
    Contact,
    Customer,
    Dialog,
    Outbox,
    Payment,
    StageChange,
    User,
)
from tests.conftest import T0
from tests.conversation import click, customer_named, last_card, say, seed_customer, texts

MINE = "华东医疗器械有限公司"  # lilei's (华东一组)
TEAMMATE = "东方精工机床"  # wangfang's: same team as lilei, another rep
OTHER_TEAM = "华北能源集团"  # hanmeimei's (华北一组)
OWNERS = {MINE: "lilei", TEAMMATE: "wangfang", OTHER_TEAM: "hanmeimei"}
SECRET_CONTACT = {MINE: "王总", TEAMMATE: "赵工", OTHER_TEAM: "钱主任"}  # each deal's decision maker
AMOUNT = {MINE: 810_000, TEAMMATE: 920_000, OTHER_TEAM: 730_000}
ROOM = "wr-customer-room"
NOT_FOUND = "没有找到「{name}」"


@pytest.fixture
def company(runtime) -> dict[str, int]:
    """The test org plus a second rep in lilei's team, and one deal per rep with a contact and an amount."""
    with session_scope(runtime.engine) as session:
        team_id = session.get(User, "lilei").team_id
        session.add(User(id="wangfang", name="王芳", role="rep", team_id=team_id))
    ids = {}
    with Session(runtime.engine) as session:
        for name, owner in OWNERS.items():
            opp = seed_customer(session, name, owner=owner, aliases=[name[:4]], updated=T0, stage="需求确认")
            opp.amount, opp.decision_chain = AMOUNT[name], [{"name": SECRET_CONTACT[name], "title": "CTO",
                                                             "role": "决策人"}]
            session.add(opp)
            session.add(Contact(customer_id=opp.customer_id, name=SECRET_CONTACT[name], title="CTO", role="决策人"))
            session.commit()
            ids[name] = opp.customer_id
    return ids


@pytest.fixture
def client(runtime, company) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def counts(engine) -> dict[str, int]:
    """What a refused command must leave as it was."""
    with Session(engine) as session:
        return {table.__name__: session.exec(select(func.count()).select_from(table)).one()
                for table in (StageChange, Payment, BehaviorLog, Checklist, Dialog, Customer)}


def audit_rows(engine, actor: str | None = None) -> list[tuple[str | None, str, str | None, dict[str, Any]]]:
    with Session(engine) as session:
        stmt = select(AuditLog).order_by(AuditLog.id)
        if actor is not None:
            stmt = stmt.where(AuditLog.actor == actor)
        return [(a.actor, a.action, a.target, a.detail) for a in session.exec(stmt).all()]


def leaks(payloads: list[dict[str, Any]], name: str) -> list[str]:
    """Anything of another rep's deal found in what someone was sent: its contact or its amount."""
    text = json.dumps(payloads, ensure_ascii=False)
    return [s for s in (SECRET_CONTACT[name], str(AMOUNT[name]), f"{AMOUNT[name] // 10_000}万") if s in text]


# --- chat commands that take a customer ---------------------------------------------------------------------

# command → what a rep is shown about a customer they may not see (the same as for no customer: a 新建线索/都不是 card)
COMMANDS = {command: NOT_FOUND for command in (
    "拜访 {c}", "推进 {c} 到 方案演示", "进展 {c} 客户约了下周演示", "行为 {c} 方案演示", "回款 {c} 30万")}
LEAD_REFUSALS = {
    TEAMMATE: "客户「东方精工机床」已由同组其他同事跟进，不能重复录入。请换一个名称，或联系您的主管。",
    OTHER_TEAM: "客户「华北能源集团」已由其他团队跟进，不能重复录入。请换一个名称，或联系您的主管。",
}


def test_a_rep_cannot_reach_another_reps_customer_by_name_or_alias(client, runtime):
    before = counts(runtime.engine)
    for target in (TEAMMATE, OTHER_TEAM):
        for command, refusal in COMMANDS.items():
            for mention in (target, target[:4]):  # the full name, then the alias its owner uses
                replies = say(client, command.format(c=mention))
                assert [p["card"]["title"] for p in replies] == [refusal.format(name=mention)], command.format(c=mention)
                shown = json.dumps(replies, ensure_ascii=False).replace(f"「{mention}」", "")
                assert leaks(replies, target) == [] and target not in shown
    assert counts(runtime.engine) == before


def test_a_new_lead_for_another_reps_customer_is_refused_without_their_data(client, runtime):
    for target, refusal in LEAD_REFUSALS.items():
        replies = say(client, f"新线索 {target} 医疗 预算500万")
        assert texts(replies)[0] == refusal
        assert last_card(replies)["title"] == "新线索 · 客户名称" and leaks(replies, target) == []
        say(client, "取消")
    with Session(runtime.engine) as session:
        assert {c.name: c.owner_id for c in session.exec(select(Customer)).all()} == OWNERS


def test_a_manager_reaches_their_team_not_another_and_every_read_is_audited(client, runtime, company):
    for viewer, sees in (("zhangwei", [MINE, TEAMMATE]), ("liuyang", [OTHER_TEAM]),
                         ("boss", [MINE, TEAMMATE, OTHER_TEAM])):
        for name in sees:
            assert last_card(say(client, f"拜访 {name}", user=viewer))["title"] == f"📋《客户攻坚清单》· {name}"
        for name in OWNERS.keys() - set(sees):
            assert last_card(say(client, f"拜访 {name}", user=viewer))["title"] == NOT_FOUND.format(name=name)
        assert audit_rows(runtime.engine, viewer) == [
            (viewer, "customer.read", f"customer:{company[name]}", {"via": "checklist"}) for name in sees]
    with Session(runtime.engine) as session:
        assert {a.at for a in session.exec(select(AuditLog)).all()} == {T0}


def test_a_managers_stage_advance_is_audited_and_a_reps_own_reads_are_not(client, runtime, company):
    card = last_card(say(client, f"推进 {TEAMMATE} 到 方案演示", user="zhangwei"))
    assert card["title"] == f"「{TEAMMATE}」这次是哪类行为？"
    say(client, f"拜访 {MINE}")
    say(client, f"推进 {MINE} 到 方案演示")
    assert audit_rows(runtime.engine) == [("zhangwei", "customer.read", f"customer:{company[TEAMMATE]}",
                                           {"via": "stages"})]


# --- card actions --------------------------------------------------------------------------------------------

CARD_UNKNOWN = "无法识别这次点击，请重新发起操作。"
CARD_FOREIGN = "这张卡片不是发给您的，无法操作。"
CARD_USED = "这张卡片已经处理过了。"
CARD_EXPIRED = "这张卡片已过期，请重新发起操作。"
FORGERIES = {
    "made up": (lambda key: "x" * len(key), CARD_UNKNOWN),
    "tampered": (lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"), CARD_UNKNOWN),
    "another user's": (lambda key: key, CARD_FOREIGN),
}


def post_click(client: TestClient, key: str, user: str) -> list[str]:
    messages = client.post("/sim/api/click", json={"user": user, "key": key}).json()["messages"]
    return texts([m["payload"] for m in messages if m["direction"] == "out"])


def test_forged_replayed_and_expired_card_actions_are_refused_and_change_nothing(client, runtime):
    card = last_card(say(client, f"推进 {OTHER_TEAM} 到 方案演示", user="hanmeimei"))  # completing it: a stage change
    assert card["title"] == f"「{OTHER_TEAM}」这次是哪类行为？"
    first, second = card["buttons"][0], card["buttons"][1]
    before = counts(runtime.engine)
    for forgery, (forge, answer) in FORGERIES.items():  # lilei acting on hanmeimei's deal
        assert post_click(client, forge(first["key"]), "lilei") == [answer], forgery
    assert counts(runtime.engine) == before
    assert texts(click(client, card, first["label"], user="hanmeimei"))[0].startswith("✅ 已推进")
    after = counts(runtime.engine)
    assert post_click(client, first["key"], "hanmeimei") == [CARD_USED]  # the same click again
    assert post_click(client, second["key"], "hanmeimei") == [CARD_USED]  # another button of the answered card
    assert counts(runtime.engine) == after and after["StageChange"] == after["BehaviorLog"] == 1
    checklist = last_card(say(client, f"拜访 {OTHER_TEAM}", user="hanmeimei"))
    runtime.clock.advance(timedelta(days=8))  # cards live 7 days
    assert post_click(client, checklist["buttons"][0]["key"], "hanmeimei") == [CARD_EXPIRED]
    with Session(runtime.engine) as session:
        assert not any(i["done"] for c in session.exec(select(Checklist)).all() for i in c.items)


def test_a_pick_button_is_checked_again_when_clicked(client, runtime):
    with Session(runtime.engine) as session:
        seed_customer(session, "华东医疗科技有限公司", updated=T0)
    card = last_card(say(client, "推进 华东 到 方案演示"))
    assert card["title"] == "您指的是哪个客户？"
    with session_scope(runtime.engine) as session:  # reassigned to another team before lilei clicks
        customer_named(session, "华东医疗科技有限公司").owner_id = "hanmeimei"
    before = counts(runtime.engine)
    assert texts(click(client, card, "华东医疗科技有限公司")) == ["这个客户已不存在，或已不在您可以操作的范围内。"]
    assert counts(runtime.engine) == before


# --- group chats ---------------------------------------------------------------------------------------------


def outbox(engine) -> list[Outbox]:
    with Session(engine) as session:
        return list(session.exec(select(Outbox).order_by(Outbox.id)).all())


def test_commands_in_a_group_chat_are_answered_privately_and_never_show_another_reps_data(client, runtime):
    for text in (f"推进 {MINE} 到 方案演示", f"拜访 {MINE}", f"回款 {MINE} 30万", "看板", "预测"):
        client.post("/sim/api/send", json={"user": "lilei", "text": text, "chat": ROOM})
    for text in (f"拜访 {MINE}", "推进 华东医疗 到 方案演示", f"回款 {MINE} 30万", f"新线索 {MINE} 医疗"):
        client.post("/sim/api/send", json={"user": "hanmeimei", "text": text, "chat": ROOM})
    rows = outbox(runtime.engine)
    assert [r.payload for r in rows if r.chat_id == ROOM] == []  # nothing of anyone's deals said to the room
    mine = [r.payload for r in rows if r.user_id == "lilei"]
    assert len(mine) == 5 and all(MINE in json.dumps(p, ensure_ascii=False) for p in mine[:3])  # lilei got hers
    theirs = [r.payload for r in rows if r.user_id == "hanmeimei"]
    assert len(theirs) == 5 and leaks(theirs, MINE) == []
    assert theirs[0]["card"]["title"] == NOT_FOUND.format(name=MINE)
    assert {r.user_id for r in rows} == {"lilei", "hanmeimei"}
    key = mine[0]["card"]["buttons"][0]["key"]  # the card answered privately is bound to lilei
    assert post_click(client, key, "hanmeimei") == [CARD_FOREIGN]


# --- dashboards ----------------------------------------------------------------------------------------------


def dash(client: TestClient, runtime, viewer: str, page: str = "home", *, api: bool = True):
    url = runtime.signer.url(viewer, page, T0).removeprefix(runtime.settings.server.public_url)
    return client.get(url.replace("/dash/", "/dash/api/") if api else url)


SCOPES = {"lilei": {MINE}, "wangfang": {TEAMMATE}, "hanmeimei": {OTHER_TEAM}, "zhangwei": {MINE, TEAMMATE},
          "liuyang": {OTHER_TEAM}, "boss": {MINE, TEAMMATE, OTHER_TEAM}}


def test_dashboards_show_each_viewer_their_scope_and_refuse_the_rest(client, runtime):
    every = {i["customer"]: i["id"] for i in dash(client, runtime, "boss").json()["pipeline"]["items"]}
    for viewer, sees in SCOPES.items():
        home = dash(client, runtime, viewer).json()
        assert {i["customer"] for i in home["pipeline"]["items"]} == sees, viewer
        for name in sees:
            assert dash(client, runtime, viewer, f"opportunity/{every[name]}").json()["customer"] == name
        for name in OWNERS.keys() - sees:  # a link correctly signed for this viewer, to a page outside their scope
            assert leaks([home], name) == []
            for api in (True, False):
                refused = dash(client, runtime, viewer, f"opportunity/{every[name]}", api=api)
                assert refused.status_code == 403 and "您无权查看这个页面。" in refused.text
                assert name not in refused.text and SECRET_CONTACT[name] not in refused.text


def test_a_managers_dashboard_reads_are_audited_with_what_was_shown(client, runtime, company):
    assert dash(client, runtime, "zhangwei", api=False).status_code == 200  # the page holds no data: no row
    home = dash(client, runtime, "zhangwei").json()
    item = next(i for i in home["pipeline"]["items"] if i["customer"] == TEAMMATE)
    dash(client, runtime, "zhangwei", f"opportunity/{item['id']}")
    dash(client, runtime, "lilei")  # a rep's own dashboard is not a manager's read
    assert audit_rows(runtime.engine) == [
        ("zhangwei", "customer.read", "dash:home", {"via": "dash", "customers": sorted([company[MINE],
                                                                                         company[TEAMMATE]])}),
        ("zhangwei", "customer.read", f"customer:{company[TEAMMATE]}", {"via": "dash", "opportunity": item["id"]}),
    ]


# --- exports -------------------------------------------------------------------------------------------------


def export(tmp_path, db_url, capsys, *args: str) -> tuple[int, Any]:
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {json.dumps(db_url)}\n", encoding="utf-8")
    capsys.readouterr()
    code = main(["export", *args, "--config", str(config)])
    out = capsys.readouterr()
    return code, json.loads(out.out) if code == 0 else out.err.strip()


def test_exports_run_as_the_operator_or_scoped_with_as_and_are_audited(runtime, company, tmp_path, db_url, capsys):
    assert export(tmp_path, db_url, capsys, "customers", "--as", "nobody") == (
        2, "--as: 没有用户「nobody」（请用组织文件里的 id）")
    assert audit_rows(runtime.engine) == []
    for as_user, sees in ((None, set(OWNERS)), ("lilei", {MINE}), ("zhangwei", {MINE, TEAMMATE}),
                          ("liuyang", {OTHER_TEAM})):
        code, rows = export(tmp_path, db_url, capsys, "opportunities", *(["--as", as_user] if as_user else []))
        assert code == 0 and {r["customer"] for r in rows} == sees, as_user
        actor, action, target, detail = audit_rows(runtime.engine)[-1]
        assert (action, target, detail["rows"], detail["operator"].startswith("cli")) == (
            "export", "export:opportunities", len(sees), True)
        assert actor == (as_user or detail["operator"])
    assert len(audit_rows(runtime.engine)) == 4


# --- purge ---------------------------------------------------------------------------------------------------


def test_a_purge_keeps_the_audit_facts_but_not_the_customers_data(client, runtime, company, tmp_path, db_url,
                                                                  capsys):
    say(client, f"进展 {MINE} 王总说下周签810000的合同")  # a rep's note: content, kept in the audit row
    say(client, f"拜访 {MINE}", user="zhangwei")
    dash(client, runtime, "zhangwei")
    before = audit_rows(runtime.engine)
    assert [a for _, a, _, _ in before] == ["progress", "customer.read", "customer.read"]
    assert "王总" in json.dumps(before, ensure_ascii=False)
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {json.dumps(db_url)}\n", encoding="utf-8")
    assert main(["customer", "purge", MINE, "--actor", "boss", "--config", str(config)]) == 0
    after = audit_rows(runtime.engine)
    assert [(who, what, target) for who, what, target, _ in after] == [
        (who, what, target) for who, what, target, _ in before] + [("boss", "customer.purge",
                                                                    f"customer:{company[MINE]}")]
    dumped = json.dumps(after, ensure_ascii=False)
    assert not any(s in dumped for s in (MINE, MINE[:4], SECRET_CONTACT[MINE], str(AMOUNT[MINE])))
    assert after[0][3] == {} and after[2][3]["customers"] == sorted([company[MINE], company[TEAMMATE]])
