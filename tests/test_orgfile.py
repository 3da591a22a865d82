from datetime import date
from pathlib import Path

from sqlmodel import Session, select

from bot.cli import main
from store.models import Team, User
from tests.conftest import DATA


def config_for(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"database:\n  url: {db_url}\n", encoding="utf-8")
    return path


def snapshot(engine):
    with Session(engine) as session:
        users = [(u.id, u.name, u.role, u.team_id, u.wecom_userid, u.dingtalk_userid, u.hired_on)
                 for u in session.exec(select(User).order_by(User.id)).all()]
        teams = [(t.id, t.name, t.region, t.manager_id) for t in session.exec(select(Team).order_by(Team.id)).all()]
    return users, teams


def test_org_import_is_idempotent(tmp_path, db_url, engine, capsys):
    config = config_for(tmp_path, db_url)
    assert main(["org", "import", str(DATA / "org.yaml"), "--config", str(config)]) == 0
    assert "已导入 2 个团队、5 个用户" in capsys.readouterr().out
    first = snapshot(engine)
    assert main(["org", "import", str(DATA / "org.yaml"), "--config", str(config)]) == 0
    assert snapshot(engine) == first
    users, teams = first
    assert ("lilei", "李雷", "rep", teams[0][0], "lilei", "0123", date(2026, 11, 2)) in users
    assert teams[0][1:] == ("华东一组", "华东", "zhangwei")


def test_reimport_updates_changed_people(tmp_path, db_url, engine):
    config = config_for(tmp_path, db_url)
    assert main(["org", "import", str(DATA / "org.yaml"), "--config", str(config)]) == 0
    changed = (DATA / "org.yaml").read_text(encoding="utf-8").replace("name: 李雷", "name: 李雷雷")
    (tmp_path / "org2.yaml").write_text(changed, encoding="utf-8")
    assert main(["org", "import", str(tmp_path / "org2.yaml"), "--config", str(config)]) == 0
    with Session(engine) as session:
        assert session.get(User, "lilei").name == "李雷雷"


def test_unknown_team_and_manager_exit_2_naming_the_line(tmp_path, db_url, engine, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "teams:\n"
        "  - name: 华东一组\n"
        "    manager: nobody\n"
        "users:\n"
        "  - id: lilei\n"
        "    name: 李雷\n"
        "    role: rep\n"
        "    team: 华南组\n"
        "  - id: x\n"
        "    name: X\n"
        "    role: boss\n",
        encoding="utf-8",
    )
    assert main(["org", "import", str(bad), "--config", str(config_for(tmp_path, db_url))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"{bad}:5: team: 未知的团队 华南组（teams 里没有）",
        f"{bad}:9: role: role 应为 rep、manager 或 admin，而不是 boss",
        f"{bad}:2: manager: 未知的主管 nobody（users 里没有）",
    ]
    assert snapshot(engine) == ([], [])


def test_hired_on_is_accepted_quoted_as_an_hr_export_writes_it_or_as_a_plain_yaml_date(tmp_path, db_url, engine,
                                                                                       capsys):
    org = tmp_path / "org.yaml"
    org.write_text(
        "teams: []\n"
        "users:\n"
        "  - {id: a, name: 甲, role: rep, hired_on: '2024-06-03'}\n"
        "  - {id: b, name: 乙, role: rep, hired_on: \"2024-06-04\"}\n"
        "  - {id: c, name: 丙, role: rep, hired_on: 2024-06-05}\n",
        encoding="utf-8",
    )
    assert main(["org", "import", str(org), "--config", str(config_for(tmp_path, db_url))]) == 0
    assert "已导入 0 个团队、3 个用户" in capsys.readouterr().out
    users, _ = snapshot(engine)
    assert [(u[0], u[6]) for u in users] == [("a", date(2024, 6, 3)), ("b", date(2024, 6, 4)), ("c", date(2024, 6, 5))]


def test_a_hired_on_that_is_no_date_is_refused_naming_it_and_nothing_is_imported(tmp_path, db_url, engine, capsys):
    org = tmp_path / "org.yaml"
    org.write_text(
        "teams: []\n"
        "users:\n"
        "  - {id: a, name: 甲, role: rep, hired_on: '2024-06-03'}\n"
        "  - {id: b, name: 乙, role: rep, hired_on: '2024-13-01'}\n"
        "  - {id: c, name: 丙, role: rep, hired_on: 2024年6月3日}\n"
        "  - {id: d, name: 丁, role: rep, hired_on: 20240603}\n",
        encoding="utf-8",
    )
    assert main(["org", "import", str(org), "--config", str(config_for(tmp_path, db_url))]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"{org}:4: hired_on: hired_on 应为日期 YYYY-MM-DD，而不是 2024-13-01",
        f"{org}:5: hired_on: hired_on 应为日期 YYYY-MM-DD，而不是 2024年6月3日",
        f"{org}:6: hired_on: hired_on 应为日期 YYYY-MM-DD，而不是 20240603",
    ]
    assert snapshot(engine) == ([], [])
