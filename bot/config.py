"""Configuration: config.yaml plus LIUHEN__SECTION__KEY overrides, validated strictly at start-up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

ENV_PREFIX = "LIUHEN__"

MESSAGES = {
    "missing_file": "找不到配置文件",
    "bad_yaml": "不是合法的 YAML：{error}",
    "not_mapping": "顶层必须是键值映射",
    "unknown_key": "未知的配置项",
    "required_when_enabled": "{channel} 已启用，但此项为空",
    "aes_key_length": "必须是 43 个字符（当前 {n} 个）",
    "bad_timezone": "未知时区 {value}",
    "bad_env": "环境变量 {name} 的值无法解析：{error}",
    "asr_required": "asr.provider 为 {provider} 时此项不能为空",
}

TYPE_MESSAGES = {
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "string_type": "应为字符串",
    "model_type": "应为键值映射",
    "dict_type": "应为键值映射",
    "literal_error": "取值不在允许范围内：{expected}",
}


class ConfigError(Exception):
    """One or more problems, each already formatted as `file: key: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DatabaseConfig(_Section):
    url: str = "sqlite:///liuhen.db"


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    link_secret: str = ""  # signs dashboard links (bot.links); empty: generated once, kept in the database


class WeComConfig(_Section):
    enabled: bool = False
    corp_id: str = ""
    agent_id: int = 0
    secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    api_base: str = "https://qyapi.weixin.qq.com"
    replay_window_seconds: int = 600  # callbacks whose timestamp is further off are refused as replays

    @model_validator(mode="after")
    def _secrets_when_enabled(self) -> WeComConfig:
        if self.enabled:
            _require(self, "企业微信", ["corp_id", "agent_id", "secret", "token", "encoding_aes_key"])
            if len(self.encoding_aes_key) != 43:
                raise _KeyError("encoding_aes_key", MESSAGES["aes_key_length"].format(n=len(self.encoding_aes_key)))
        return self


class DingTalkConfig(_Section):
    enabled: bool = False
    client_id: str = ""
    client_secret: str = ""
    robot_code: str = ""
    api_base: str = "https://api.dingtalk.com"
    oapi_base: str = "https://oapi.dingtalk.com"
    card_template_id: str = ""  # interactive card template (docs/dingtalk.md); empty: cards go as markdown

    @model_validator(mode="after")
    def _secrets_when_enabled(self) -> DingTalkConfig:
        if self.enabled:
            _require(self, "钉钉", ["client_id", "client_secret", "robot_code"])
        return self


class CompanyDataConfig(_Section):
    provider: Literal["none", "tianyancha", "qichacha"] = "none"
    base_url: str = ""
    token: str = ""


class AsrConfig(_Section):
    """Speech-to-text for WeCom voice messages (DingTalk sends its own recognition); docs/voice.md."""

    provider: Literal["none", "tencent", "local"] = "none"
    base_url: str = ""  # empty: the provider's public address
    secret_id: str = ""
    secret_key: str = ""
    model_dir: str = ""  # local engine: the tenant's own model files, never downloaded

    @model_validator(mode="after")
    def _complete_for_provider(self) -> AsrConfig:
        needed = {"tencent": ["secret_id", "secret_key"], "local": ["model_dir"]}.get(self.provider, [])
        for key in needed:
            if not getattr(self, key):
                raise _KeyError(key, MESSAGES["asr_required"].format(provider=self.provider))
        return self


class IngestConfig(_Section):
    archive_token: str = ""


class LocalConfig(_Section):
    """The web chat simulator; on in `liuhen demo`, off in `serve` unless asked for."""

    enabled: bool = False


class ModulesConfig(_Section):
    leads: bool = True
    touches: bool = True
    stage_lights: bool = True
    health: bool = True
    payments: bool = True
    behaviors: bool = True
    forecast: bool = True
    reports: bool = True


class Settings(_Section):
    timezone: str = "Asia/Shanghai"
    database: DatabaseConfig = DatabaseConfig()
    server: ServerConfig = ServerConfig()
    rules_dir: str = "rules"
    wecom: WeComConfig = WeComConfig()
    dingtalk: DingTalkConfig = DingTalkConfig()
    company_data: CompanyDataConfig = CompanyDataConfig()
    asr: AsrConfig = AsrConfig()
    ingest: IngestConfig = IngestConfig()
    local: LocalConfig = LocalConfig()
    modules: ModulesConfig = ModulesConfig()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(MESSAGES["bad_timezone"].format(value=value)) from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class _KeyError(ValueError):
    """A validation problem that belongs to one key of the section, not the section itself."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _require(section: BaseModel, label: str, keys: list[str]) -> None:
    for key in keys:
        if not getattr(section, key):
            raise _KeyError(key, MESSAGES["required_when_enabled"].format(channel=label))


def _coerce_env(raw: str) -> Any:
    """Env values are YAML scalars, so `true`, `8000` and `""` mean what they say."""
    return yaml.safe_load(raw) if raw.strip() else ""


def _apply_env(data: dict[str, Any], environ: dict[str, str], problems: list[str]) -> None:
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        try:
            value = _coerce_env(raw)
        except yaml.YAMLError as exc:
            problems.append(f"{name}: {'.'.join(path)}: " + MESSAGES["bad_env"].format(name=name, error=exc))
            continue
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if path:
            node[path[-1]] = value


def _format(source: str, error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        message = item["msg"]
        ctx_error = (item.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _KeyError):
            loc.append(ctx_error.key)
            message = str(ctx_error)
        elif item["type"] == "extra_forbidden":
            message = MESSAGES["unknown_key"]
        elif item["type"] in TYPE_MESSAGES:
            message = TYPE_MESSAGES[item["type"]].format(**(item.get("ctx") or {}))
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(f"{source}: {'.'.join(loc)}: {message}")
    return problems


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Reads the file (if any), applies env overrides and validates; raises ConfigError."""
    environ = dict(os.environ if environ is None else environ)
    explicit = path if path is not None else environ.get("LIUHEN_CONFIG")
    file = Path(explicit) if explicit else Path("config.yaml")
    source = str(explicit) if explicit else "config.yaml"
    data: dict[str, Any] = {}
    if file.exists():
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError([f"{source}: -: " + MESSAGES["bad_yaml"].format(error=exc)]) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError([f"{source}: -: " + MESSAGES["not_mapping"]])
        data = loaded or {}
    elif explicit:
        raise ConfigError([f"{source}: -: " + MESSAGES["missing_file"]])
    problems: list[str] = []
    _apply_env(data, environ, problems)
    for section, values in (overrides or {}).items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    if problems:
        raise ConfigError(problems)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format(source, exc)) from None
