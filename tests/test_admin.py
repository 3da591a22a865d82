"""The admin console: only an admin's genuine, unexpired link opens it; an edit is checked field by field, saved as a
version (audited), stale saves are refused, a rollback is a new version, and every process takes up the change."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.links import ADMIN
from bot.runtime import Runtime
from rules.loader import load_rules
from rules.schema import RULE_FILES
from store import rule_versions
from store.db import session_scope
from store.models import AuditLog, Outbox, RuleVersion
from tests.conftest import T0
from tests.pipeline_helpers import opportunity

STAGE = "方案演示"  # yellow after 5 days, escalated after 7 in the shipped rules


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def token(runtime, viewer: str = "boss", *, at=T0) -> str:
    return runtime.signer.token(viewer, ADMIN, at)


def stages_with(runtime, yellow: object) -> dict:
    data = copy.deepcopy(runtime.rules.stages.model_dump(mode="json"))
    index = next(i for i, s in enumerate(data["stages"]) if s["name"] == STAGE)
    data["stages"][index]["yellow_days"] = yellow
    return data


def versions(engine) -> int:
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(RuleVersion)).scalar_one()


def save(client, runtime, yellow: object, *, why: str = "方案阶段提前亮黄灯", based_on=None, t=None):
    body = {"files": {"stages.yaml": stages_with(runtime, yellow)}, "why": why, "based_on": based_on}
    return client.post("/admin/api/save", params={"t": token(runtime) if t is None else t}, json=body)


def yellow_days(runtime: Runtime) -> int | None:
    stage = runtime.rules.stages.stage(STAGE)
    return stage.yellow_days if stage else None


def test_an_admins_link_opens_the_console_in_chinese(client, runtime):
    page = client.get("/admin", params={"t": token(runtime)})
    assert page.status_code == 200 and "留痕管理后台" in page.text
    state = client.get("/admin/api/state", params={"t": token(runtime)}).json()
    assert state["version"] is None and state["history"] == []
    titles = {f["name"]: f["title"] for f in state["files"]}
    assert titles["stages.yaml"] == "阶段与红绿灯" and set(titles) == set(RULE_FILES)
    stages = next(f for f in state["files"] if f["name"] == "stages.yaml")
    assert stages["schema"]["$defs"]["Stage"]["properties"]["yellow_days"] and stages["data"]["stages"][0]["name"] == "线索"
    assert {m["name"] for m in state["modules"]} >= {"stage_lights", "leads", "behaviors"}


@pytest.mark.parametrize(("viewer", "shift", "reason"), [
    ("lilei", timedelta(0), "只有管理员"),  # a rep
    ("zhangwei", timedelta(0), "只有管理员"),  # a manager
    ("boss", timedelta(days=-8), "已过期"),  # an admin's link, expired
])
def test_anyone_but_an_admin_with_a_fresh_link_is_refused_and_nothing_changes(client, runtime, engine, viewer, shift,
                                                                               reason):
    t = token(runtime, viewer, at=T0 + shift)
    page = client.get("/admin", params={"t": t})
    assert page.status_code == 403 and reason in page.text
    assert client.get("/admin/api/state", params={"t": t}).status_code == 403
    answer = save(client, runtime, 2, t=t)
    assert answer.status_code == 403 and reason in answer.json()["detail"]
    assert versions(engine) == 0 and yellow_days(runtime) == 5


def test_a_forged_or_missing_token_is_refused(client, runtime, engine):
    genuine = token(runtime)
    mac = genuine.split(".")[1]
    forged = token(runtime, "lilei").split(".")[0] + "." + mac  # a rep's body under the admin's signature
    for t in (forged, genuine[:-2] + "xx", ""):
        assert save(client, runtime, 2, t=t).status_code == 403
        assert client.post("/admin/api/restore", params={"t": t}, json={"version": 1}).status_code == 403
    dash_token = runtime.signer.token("boss", "home", T0)  # a dashboard link does not open the console
    assert client.get("/admin", params={"t": dash_token}).status_code == 403
    assert versions(engine) == 0


def test_an_invalid_value_is_reported_on_its_field_and_not_saved(client, runtime, engine):
    index = next(i for i, s in enumerate(runtime.rules.stages.stages) if s.name == STAGE)
    checked = client.post("/admin/api/check", params={"t": token(runtime)},
                          json={"files": {"stages.yaml": stages_with(runtime, 0)}}).json()
    assert checked["problems"] == [{"file": "stages.yaml", "key": f"stages[{index}].yellow_days", "message": "应不小于 1"}]
    answer = save(client, runtime, 0)
    assert answer.status_code == 422 and answer.json()["problems"][0]["key"] == f"stages[{index}].yellow_days"
    answer = save(client, runtime, 9)  # after escalate_days (7): the same check as `rules check`
    assert answer.status_code == 422
    assert answer.json()["problems"][0] == {"file": "stages.yaml", "key": f"stages[{index}]",
                                            "message": "escalate_days 不能早于 yellow_days"}
    assert versions(engine) == 0 and yellow_days(runtime) == 5


def test_a_save_without_a_reason_is_refused(client, runtime, engine):
    answer = save(client, runtime, 3, why="  ")
    assert answer.status_code == 422 and answer.json()["problems"][0]["message"] == "请填写修改说明"
    assert versions(engine) == 0


def test_the_check_says_how_many_open_opportunities_change_light(client, runtime, engine):
    for name, idle in (("甲公司", 4), ("乙公司", 4), ("丙公司", 2)):
        opportunity(engine, customer=name, stage=STAGE, at=T0 - timedelta(days=idle, hours=1))
    checked = client.post("/admin/api/check", params={"t": token(runtime)},
                          json={"files": {"stages.yaml": stages_with(runtime, 3)}}).json()
    assert checked["problems"] == []
    assert "红绿灯：2 个进行中的商机将由绿灯变为黄灯" in checked["effects"]
    assert checked["effects"][0] == "修改了：阶段与红绿灯"


def test_a_saved_version_is_audited_and_used_at_once(client, runtime, engine):
    answer = save(client, runtime, 3)
    assert answer.status_code == 200 and answer.json() == {"version": 1}
    assert yellow_days(runtime) == 3
    with session_scope(engine) as session:
        row = session.get(RuleVersion, 1)
        assert (row.author, row.why, row.based_on) == ("boss", "方案阶段提前亮黄灯", None)
        assert "yellow_days: 3" in row.files["stages.yaml"] and set(row.files) == set(RULE_FILES)
        [audit] = session.execute(select(AuditLog).where(AuditLog.action == "rules.saved")).scalars()
        assert (audit.actor, audit.target, audit.detail["why"]) == ("boss", "rules:1", "方案阶段提前亮黄灯")


def test_an_unchanged_file_keeps_its_text_and_comments(client, runtime, engine):
    save(client, runtime, 3)
    with session_scope(engine) as session:
        files = session.get(RuleVersion, 1).files
    assert files["leads.yaml"] == runtime.live.book.texts["leads.yaml"] and files["leads.yaml"].lstrip().startswith("#")


def test_a_save_based_on_an_older_version_is_refused_with_409(client, runtime, engine):
    assert save(client, runtime, 3).status_code == 200
    answer = save(client, runtime, 4, based_on=None)  # the editor opened the console before version 1
    assert answer.status_code == 409
    assert "版本 #1" in answer.json()["detail"] and "没有保存" in answer.json()["detail"]
    assert versions(engine) == 1 and yellow_days(runtime) == 3
    assert save(client, runtime, 4, based_on=1).status_code == 200 and yellow_days(runtime) == 4


def test_a_rollback_is_a_new_version_restoring_the_earlier_rules(client, runtime, engine):
    save(client, runtime, 3)
    save(client, runtime, 4, based_on=1)
    answer = client.post("/admin/api/restore", params={"t": token(runtime)}, json={"version": 1, "based_on": 2})
    assert answer.status_code == 200 and answer.json() == {"version": 3}
    assert yellow_days(runtime) == 3
    with session_scope(engine) as session:
        row = session.get(RuleVersion, 3)
        assert (row.restored_from, row.based_on, row.why) == (1, 2, "恢复到版本 #1")
        assert session.execute(select(AuditLog).where(AuditLog.action == "rules.restored")).scalar_one().actor == "boss"
    history = client.get("/admin/api/state", params={"t": token(runtime)}).json()["history"]
    assert [(v["id"], v["active"], v["restored_from"]) for v in history] == [(3, True, 1), (2, False, None),
                                                                             (1, False, None)]
    stale = client.post("/admin/api/restore", params={"t": token(runtime)}, json={"version": 2, "based_on": 2})
    assert stale.status_code == 409 and versions(engine) == 3


def test_another_process_takes_up_a_saved_version_before_its_next_sweep(client, runtime, engine, settings, clock):
    other = Runtime(settings, clock=clock, engine=engine)  # a second `serve` on the same database
    other.refresh()
    assert yellow_days(other) == 5
    opportunity(engine, customer="甲公司", stage=STAGE, at=T0 - timedelta(days=4))
    job = next(j for j in other.jobs if j.name == "stage_lights")
    assert other.scheduler.leadership.try_acquire()
    other.scheduler.tick(job.name)
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Outbox)).scalar_one() == 0
    assert save(client, runtime, 3).status_code == 200
    other.scheduler.tick(job.name)  # refreshes first, then sweeps by version 1
    assert yellow_days(other) == 3
    with session_scope(engine) as session:
        [push] = session.execute(select(Outbox)).scalars()
    assert push.user_id == "lilei" and "4 天没有更新（3 天亮黄灯" in str(push.payload)
    other.scheduler.leadership.release()


def test_module_switches_from_the_console_override_config(client, runtime, engine):
    checked = client.post("/admin/api/check", params={"t": token(runtime)},
                          json={"files": {}, "modules": {"behaviors": False}}).json()
    assert checked == {"problems": [], "effects": ["关闭模块：行为积分、排行与奖励"]}
    answer = client.post("/admin/api/save", params={"t": token(runtime)},
                         json={"files": {}, "modules": {"behaviors": False}, "why": "先只用红绿灯"})
    assert answer.status_code == 200
    assert runtime.modules.behaviors is False and runtime.modules.stage_lights is True
    assert "leaderboard" not in {job.name for job in runtime.jobs}
    state = client.get("/admin/api/state", params={"t": token(runtime)}).json()
    assert {m["name"]: m["on"] for m in state["modules"]}["behaviors"] is False


def test_an_admin_gets_the_console_link_from_kanban_and_help_and_a_rep_does_not(client, runtime):
    public = runtime.settings.server.public_url
    for text in ("看板", "帮助"):
        messages = client.post("/sim/api/send", json={"user": "boss", "text": text}).json()["messages"]
        links = [m["payload"]["card"]["link"] for m in messages if m["payload"].get("card", {}).get("link")]
        [(label, url)] = [link for link in links if "/admin?" in link[1]]
        assert label in ("打开管理后台", "管理后台（仅管理员）") and url.startswith(public + "/admin?t=")
        assert client.get(url.removeprefix(public)).status_code == 200
    for text in ("看板", "帮助"):
        messages = client.post("/sim/api/send", json={"user": "lilei", "text": text}).json()["messages"]
        assert not [m for m in messages if "/admin?" in str(m["payload"])]


def test_the_check_says_how_a_repricing_reorders_this_months_leaderboard(client, runtime, engine):
    from store import behaviors as behavior_store

    version = runtime.rules.behaviors.version_at(T0.date())
    specs = [b.model_dump(include={"code", "name", "category", "points"}) for b in version.behaviors]
    with session_scope(engine) as session:
        types = behavior_store.ensure_types(session, version.quarter, specs)
        for rep, code, times in (("lilei", "custom_solution", 1), ("hanmeimei", "competitor_intel", 3)):
            for n in range(times):  # 李雷 12 points, 韩梅梅 9: 李雷 leads
                behavior_store.log(session, rep_id=rep, opportunity_id=None, behavior=types[code],
                                   at=T0 - timedelta(hours=n + 1))
    data = copy.deepcopy(runtime.rules.behaviors.model_dump(mode="json"))
    quarter = next(v for v in data["versions"] if v["quarter"] == version.quarter)
    next(b for b in quarter["behaviors"] if b["code"] == "competitor_intel")["points"] = 5  # 韩梅梅 now 15
    checked = client.post("/admin/api/check", params={"t": token(runtime)},
                          json={"files": {"behaviors.yaml": data}}).json()
    assert checked["problems"] == []
    assert f"行为价值 {version.quarter}：~ 调整 竞品情报收集：客户洞察 3 分 → 竞品情报收集：客户洞察 5 分" in checked["effects"]
    assert "本月排行榜：韩梅梅 第 2 名 → 第 1 名" in checked["effects"]
    assert "本月排行榜：李雷 第 1 名 → 第 2 名" in checked["effects"]
    assert versions(engine) == 0


def test_without_a_saved_version_the_rule_files_and_config_apply_as_before(runtime, settings):
    assert runtime.refresh() is False
    assert runtime.live.book.version is None and runtime.rules == load_rules(settings.rules_dir)
    assert runtime.modules == settings.modules


def test_a_stored_version_that_no_longer_loads_leaves_the_process_on_what_it_has(runtime, engine):
    broken = {**runtime.live.book.texts, "stages.yaml": "stages: []\n"}
    with session_scope(engine) as session:
        rule_versions.save(session, files=broken, modules={}, author="boss", why="手工写坏", based_on=None, at=T0)
    assert runtime.refresh() is False
    assert runtime.live.book.version is None and yellow_days(runtime) == 5
