from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_settings

GOOD_AES = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def problems_of(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()


def test_defaults_match_the_contract():
    settings = load_settings(environ={}, path=None)
    assert settings.timezone == "Asia/Shanghai"
    assert settings.wecom.api_base == "https://qyapi.weixin.qq.com"
    assert settings.dingtalk.oapi_base == "https://oapi.dingtalk.com"
    assert settings.modules.reports is True


def test_env_overrides_a_nested_key_with_yaml_typing(tmp_path):
    path = write(tmp_path, "server:\n  port: 8000\n")
    settings = load_settings(path, environ={"LIUHEN__SERVER__PORT": "9001", "LIUHEN__MODULES__HEALTH": "false"})
    assert settings.server.port == 9001
    assert settings.modules.health is False


def test_unknown_key_exits_2_naming_it(tmp_path, capsys):
    path = write(tmp_path, "wecom:\n  corpid: x\n")
    lines = problems_of(capsys, "rules", "check", "--config", str(path))
    assert lines == [f"{path}: wecom.corpid: 未知的配置项"]


def test_wrong_type_exits_2_naming_the_key(tmp_path, capsys):
    path = write(tmp_path, "server:\n  port: eighty\n")
    assert problems_of(capsys, "rules", "check", "--config", str(path)) == [f"{path}: server.port: 应为整数"]


def test_enabled_channel_without_secret_names_the_missing_key(tmp_path, capsys):
    path = write(tmp_path, f"wecom:\n  enabled: true\n  corp_id: ww1\n  agent_id: 1000002\n  token: t\n"
                           f"  encoding_aes_key: {GOOD_AES}\n")
    lines = problems_of(capsys, "rules", "check", "--config", str(path))
    assert lines == [f"{path}: wecom.secret: 企业微信 已启用，但此项为空"]


def test_short_encoding_aes_key_is_refused(tmp_path):
    path = write(tmp_path, "wecom:\n  enabled: true\n  corp_id: ww1\n  agent_id: 1\n  secret: s\n  token: t\n"
                           "  encoding_aes_key: tooshort\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    assert err.value.problems == [f"{path}: wecom.encoding_aes_key: 必须是 43 个字符（当前 8 个）"]


def test_dingtalk_enabled_needs_client_secret_from_env_or_file(tmp_path):
    path = write(tmp_path, "dingtalk:\n  enabled: true\n  client_id: ding1\n  robot_code: ding1\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    assert err.value.problems == [f"{path}: dingtalk.client_secret: 钉钉 已启用，但此项为空"]
    ok = load_settings(path, environ={"LIUHEN__DINGTALK__CLIENT_SECRET": "from-env"})
    assert ok.dingtalk.client_secret == "from-env"


def test_unknown_env_key_is_an_error_too():
    with pytest.raises(ConfigError) as err:
        load_settings(None, environ={"LIUHEN__WECOM__NOPE": "1"})
    assert err.value.problems == ["config.yaml: wecom.nope: 未知的配置项"]


def test_bad_yaml_and_missing_file_exit_2(tmp_path, capsys):
    path = write(tmp_path, "server: [unclosed\n")
    assert problems_of(capsys, "rules", "check", "--config", str(path))[0].startswith(f"{path}: -: 不是合法的 YAML")
    missing = tmp_path / "nope.yaml"
    assert problems_of(capsys, "rules", "check", "--config", str(missing)) == [f"{missing}: -: 找不到配置文件"]


def test_bad_module_value_and_provider_are_named(tmp_path):
    path = write(tmp_path, "modules:\n  leads: maybe\ncompany_data:\n  provider: baidu\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    assert sorted(err.value.problems) == [
        f"{path}: company_data.provider: 取值不在允许范围内：'none', 'tianyancha' or 'qichacha'",
        f"{path}: modules.leads: 应为 true 或 false",
    ]
