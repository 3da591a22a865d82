"""`liuhen org sync dingtalk` against the fake contacts API: teams, users, managers; idempotent; clean errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from sqlmodel import Session, select

from bot import orgfile
from bot.cli import main
from store.db import session_scope
from store.models import Team, User
from tests.conftest import DATA
from tests.fakes.dingtalk_gateway import FakeDingTalk


@pytest.fixture
def fake() -> Iterator[FakeDingTalk]:
    with FakeDingTalk() as fake:
        yield fake


def config(tmp_path, db_url: str, dingtalk: dict) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": db_url}, "dingtalk": dingtalk}, allow_unicode=True))
    return str(path)


def org(engine) -> tuple[dict, dict]:
    with Session(engine) as session:
        teams = {t.name: t.manager_id for t in session.exec(select(Team)).all()}
        users = {u.id: (u.name, u.role, u.dingtalk_userid, u.team_id and session.get(Team, u.team_id).name)
                 for u in session.exec(select(User)).all()}
    return teams, users


def test_sync_creates_and_updates_teams_users_and_managers_idempotently(tmp_path, db_url, engine, fake, capsys):
    teams, users = orgfile.parse(DATA / "org.yaml")
    with session_scope(engine) as session:
        orgfile.apply(session, teams, users)
    path = config(tmp_path, db_url, fake.liuhen_config())
    assert main(["org", "sync", "dingtalk", "--config", path]) == 0
    assert capsys.readouterr().out.strip() == "已从钉钉同步 2 个部门（团队）、5 位成员，其中新增 3 位。"
    first = org(engine)
    teams_now, users_now = first
    assert teams_now == {"华东一组": "zhangwei", "华北一组": "0201"}
    assert users_now["zhangwei"] == ("张伟", "manager", "0101", "华东一组")  # matched by dingtalk_userid
    assert users_now["lilei"] == ("李雷", "rep", "0123", "华东一组")
    assert users_now["0201"] == ("刘洋", "manager", "0201", "华北一组")  # a leader, new to us
    assert users_now["0202"] == ("韩梅梅", "rep", "0202", "华北一组")
    assert users_now["0001"] == ("管理员", "rep", "0001", None)  # in the company root only
    assert users_now["boss"] == ("管理员", "admin", None, None)  # not in DingTalk: left alone

    fake.expire_tokens()  # the token kept in the database is refused: one new token, then the same result
    assert main(["org", "sync", "dingtalk", "--config", path]) == 0
    assert "其中新增 0 位" in capsys.readouterr().out
    assert org(engine) == first
    assert len(fake.calls("/v1.0/oauth2/accessToken")) == 2


def test_sync_follows_sub_departments_and_pages(tmp_path, db_url, engine, fake, capsys):
    fake.set_org(
        [{"dept_id": 1, "name": "公司"}, {"dept_id": 2, "name": "销售部", "parent_id": 1},
         {"dept_id": 5, "name": "华南组", "parent_id": 2, "dept_manager_userid_list": ["u000"]}],
        [{"userid": f"u{i:03}", "name": f"成员{i}", "dept_id_list": [5]} for i in range(130)],
    )
    assert main(["org", "sync", "dingtalk", "--config", config(tmp_path, db_url, fake.liuhen_config())]) == 0
    teams, users = org(engine)
    assert teams == {"销售部": None, "华南组": "u000"}
    assert len(users) == 130 and users["u000"][1] == "manager" and users["u129"][3] == "华南组"


def test_a_refused_secret_is_one_chinese_line_and_exit_2(tmp_path, db_url, fake, capsys):
    path = config(tmp_path, db_url, {**fake.liuhen_config(), "client_secret": "wrong"})
    assert main(["org", "sync", "dingtalk", "--config", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dingtalk: 钉钉拒绝了应用凭据，请检查 client_id、client_secret")
    assert "Traceback" not in err and "wrong" not in err and len(err.strip().splitlines()) == 1


def test_a_failing_contacts_api_exits_1_and_dingtalk_off_exits_2(tmp_path, db_url, fake, capsys):
    fake.fail_next("/topapi/v2/department/listsub", 500)
    assert main(["org", "sync", "dingtalk", "--config", config(tmp_path, db_url, fake.liuhen_config())]) == 1
    assert capsys.readouterr().err.startswith("钉钉调用失败：钉钉 /topapi/v2/department/listsub 返回 HTTP 500")
    assert main(["org", "sync", "dingtalk", "--config", config(tmp_path, db_url, {"enabled": False})]) == 2
    assert "钉钉未启用" in capsys.readouterr().err
