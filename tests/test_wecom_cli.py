
import pytest
import yaml
from sqlmodel import Session, select

from bot.cli import main
from store.models import Team, User
from tests.wecom_helpers import fake, settings  # noqa: F401 (fixtures)


@pytest.fixture
def config(runtime, tmp_path):
    """A config file with the runtime's settings (database, fake WeCom); `overrides` change wecom keys."""

    def write(**wecom) -> str:
        data = runtime.settings.model_dump()
        data["wecom"].update(wecom)
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return str(path)

    return write


def org_state(engine):
    with Session(engine) as session:
        teams = {t.name: t.manager_id for t in session.exec(select(Team)).all()}
        users = {u.id: (u.name, u.role, u.wecom_userid, u.team_id and session.get(Team, u.team_id).name, u.active)
                 for u in session.exec(select(User)).all()}
    return teams, users


def test_org_sync_creates_teams_and_users_and_is_idempotent(runtime, config, capsys):
    assert main(["org", "sync", "wecom", "--config", config()]) == 0
    assert "新增 1 位" in capsys.readouterr().out
    teams, users = org_state(runtime.engine)
    assert teams["总部"] == "wangzong" and teams["华东一组"] == "zhangwei"
    assert users["wangzong"] == ("王总", "manager", "wangzong", "总部", True)
    assert users["zhangwei"] == ("张伟", "manager", "zhangwei", "华东一组", True)
    assert users["lilei"] == ("李雷", "rep", "lilei", "华东一组", True)
    assert users["boss"][1] == "admin"  # people WeCom does not list are left alone

    assert main(["org", "sync", "wecom", "--config", config()]) == 0
    assert "新增 0 位" in capsys.readouterr().out
    assert org_state(runtime.engine) == (teams, users)


def test_menu_is_created_with_the_command_words_as_click_keys(runtime, fake, config, capsys):
    assert main(["wecom", "menu", "--config", config()]) == 0
    assert "日报速记" in capsys.readouterr().out
    buttons = fake.menu["button"]
    assert len(buttons) <= 3 and all(len(b.get("sub_button", [])) <= 5 for b in buttons)
    clicks = [b for top in buttons for b in [top, *top.get("sub_button", [])] if b.get("type") == "click"]
    assert [(b["name"], b["key"]) for b in clicks] == [(w, w) for w in ("日报速记", "新线索", "预测", "看板", "帮助")]
    assert fake.calls("menu/create")[-1].query["agentid"] == str(fake.agent_id)


def test_menu_key_runs_the_command_of_the_same_name(runtime, fake):
    from bot.events import Event

    runtime.inbox.ingest(Event(channel="wecom", msg_id="m1", sender="lilei", kind="menu_click", action="帮助",
                               received_at=runtime.clock.now()))
    runtime.work_once()
    [card] = fake.sent_messages(touser="lilei", msgtype="template_card")
    assert card["template_card"]["main_title"]["title"] == "留痕 · 可用命令"


@pytest.mark.parametrize("command", [["org", "sync", "wecom"], ["wecom", "menu"]])
def test_bad_secret_is_a_config_error_in_chinese_without_traceback(runtime, config, capsys, command):
    assert main([*command, "--config", config(secret="wrong-secret")]) == 2
    err = capsys.readouterr().err
    assert "企业微信拒绝了应用凭据" in err and "40001" in err and "Traceback" not in err
    assert "wrong-secret" not in err


def test_unreachable_wecom_exits_1_with_one_chinese_line(runtime, config, capsys):
    assert main(["org", "sync", "wecom", "--config", config(api_base="http://127.0.0.1:9")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("企业微信调用失败") and "\n" not in err


def test_wecom_commands_need_wecom_enabled(runtime, config, capsys):
    assert main(["wecom", "menu", "--config", config(enabled=False)]) == 2
    assert "企业微信未启用" in capsys.readouterr().err
