"""asr settings: each provider's required keys, and a local engine's model checked when the app starts."""

from __future__ import annotations

import importlib.util

import pytest

from bot.cli import main
from bot.config import ConfigError, load_settings
from bot.runtime import Runtime
from tests.conftest import DATA


def _settings(db_url: str, **asr: str):
    return load_settings(environ={}, path=DATA / "config-test.yaml",
                         overrides={"database": {"url": db_url}, "asr": asr})


def test_the_default_provider_is_none(db_url):
    assert _settings(db_url).asr.provider == "none"


@pytest.mark.parametrize(("asr", "key"), [
    ({"provider": "local"}, "asr.model_dir"),
    ({"provider": "tencent", "secret_key": "k"}, "asr.secret_id"),
    ({"provider": "tencent", "secret_id": "AKID"}, "asr.secret_key"),
])
def test_a_provider_without_its_keys_is_refused(db_url, asr, key):
    with pytest.raises(ConfigError) as caught:
        _settings(db_url, **asr)
    [problem] = caught.value.problems
    assert f"{key}: asr.provider 为 {asr['provider']} 时此项不能为空" in problem


def test_an_unknown_provider_is_refused(db_url):
    with pytest.raises(ConfigError, match="asr.provider: 取值不在允许范围内"):
        _settings(db_url, provider="whisper")


def test_a_missing_model_dir_stops_start_up_with_the_reason(db_url, tmp_path, clock, engine):
    missing = tmp_path / "no-model"
    with pytest.raises(ConfigError) as caught:
        Runtime(_settings(db_url, provider="local", model_dir=str(missing)), clock=clock, engine=engine)
    assert caught.value.problems == [f"asr: asr.model_dir 不存在或不是目录：{missing}（本地识别需要租户自备的模型文件，"
                                     "运行时不会下载）"]


@pytest.mark.skipif(importlib.util.find_spec("vosk") is not None, reason="the asr-local extra is installed")
def test_a_local_provider_without_vosk_names_the_extra(db_url, tmp_path, clock, engine):
    with pytest.raises(ConfigError, match=r"pip install 'liuhen\[asr-local\]'"):
        Runtime(_settings(db_url, provider="local", model_dir=str(tmp_path)), clock=clock, engine=engine)


def test_serve_prints_the_asr_problem_and_exits(db_url, tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {db_url}\nasr:\n  provider: local\n  model_dir: {tmp_path / 'gone'}\n",
                      encoding="utf-8")
    assert main(["serve", "--config", str(config)]) == 2
    assert "asr: asr.model_dir 不存在或不是目录" in capsys.readouterr().err


def test_a_transcribing_provider_without_ffmpeg_stops_start_up(db_url, tmp_path, clock, engine, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a server where Debian's ffmpeg was never installed
    settings = _settings(db_url, provider="tencent", secret_id="AKID", secret_key="key")
    with pytest.raises(ConfigError, match="asr: 服务器上没有 ffmpeg"):
        Runtime(settings, clock=clock, engine=engine)
