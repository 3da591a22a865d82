"""Loads the rule files: shipped defaults, each replaced by a same-named file in rules_dir."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from rules.schema import (
    RULE_FILES,
    BehaviorsFile,
    ForecastFile,
    HealthFile,
    IntentExamplesFile,
    IntentsFile,
    LeadsFile,
    NotifyFile,
    PaymentsFile,
    PrivacyFile,
    ReportsFile,
    StagesFile,
    TouchesFile,
    cross_problems,
)

DEFAULTS_DIR = Path(__file__).parent / "defaults"

MESSAGES = {
    "bad_yaml": "不是合法的 YAML：{error}",
    "not_mapping": "顶层必须是键值映射",
    "unknown_file": "未知的规则文件（可用：{known}）",
    "missing_default": "缺少内置默认规则文件",
    "extra": "未知的键",
    "missing": "缺少必填项",
}
# pydantic's error types in Chinese ({…} from the error's context); any other type keeps pydantic's own message.
PYDANTIC = {
    "greater_than_equal": "应不小于 {ge}",
    "greater_than": "应大于 {gt}",
    "less_than_equal": "应不大于 {le}",
    "less_than": "应小于 {lt}",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "string_type": "应为文字",
    "string_too_short": "至少 {min_length} 个字",
    "too_short": "至少 {min_length} 项",
    "string_pattern_mismatch": "格式不符（应匹配 {pattern}）",
    "list_type": "应为列表",
    "dict_type": "应为键值映射",
    "time_parsing": "应为时间（如 08:30）",
    "time_type": "应为时间（如 08:30）",
    "date_parsing": "应为日期（如 2026-01-01）",
    "date_from_datetime_parsing": "应为日期（如 2026-01-01）",
    "date_type": "应为日期（如 2026-01-01）",
}


@dataclass(frozen=True)
class Problem:
    """One problem in a rule file: the file, the key (as `stages[1].yellow_days`, `-` for the whole file), why."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.key}: {self.message}"


class RulesError(Exception):
    """Every problem found, each as `file:key: message` (`found` keeps them apart for the admin console)."""

    def __init__(self, problems: list[str], found: list[Problem] | None = None) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.found = found or []


@dataclass(frozen=True)
class RuleSet:
    stages: StagesFile
    reports: ReportsFile
    notify: NotifyFile
    health: HealthFile
    payments: PaymentsFile
    behaviors: BehaviorsFile
    privacy: PrivacyFile
    leads: LeadsFile
    touches: TouchesFile
    forecast: ForecastFile
    intents: IntentsFile
    intent_examples: IntentExamplesFile


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "-"


def _message(item: dict[str, Any]) -> str:
    if item["type"] == "extra_forbidden":
        return MESSAGES["extra"]
    if item["type"] == "missing":
        return MESSAGES["missing"]
    if item["type"] in PYDANTIC:
        context = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in item.get("ctx", {}).items()}
        return PYDANTIC[item["type"]].format(**context)
    return str(item["msg"]).removeprefix("Value error, ")


# libyaml's safe loader when PyYAML was built with it: rules load at every start and reload, ≈ 10× faster.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(label: str, text: str, model: type[BaseModel], problems: list[Problem]) -> BaseModel | None:
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        problems.append(Problem(label, "-", MESSAGES["bad_yaml"].format(error=str(exc).replace("\n", " "))))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(label, "-", MESSAGES["not_mapping"]))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(Problem(label, _loc(item["loc"]), _message(item)) for item in exc.errors())
        return None


def _rule_set(sources: dict[str, tuple[str, str]], problems: list[Problem]) -> RuleSet:
    """Validates each file's (label, text); raises RulesError listing every problem, not only the first."""
    loaded: dict[str, BaseModel] = {}
    for name, (attribute, model) in RULE_FILES.items():
        if name not in sources:
            problems.append(Problem(name, "-", MESSAGES["missing_default"]))
            continue
        parsed = _parse(*sources[name], model, problems)
        if parsed is not None:
            loaded[attribute] = parsed
    problems += [Problem(*_split(line)) for line in cross_problems(loaded)]
    if problems:
        raise RulesError([str(p) for p in problems], problems)
    return RuleSet(**loaded)  # type: ignore[arg-type]


def _split(line: str) -> tuple[str, str, str]:
    file, key, message = line.split(":", 2)
    return file, key, message.strip()


def rule_texts(rules_dir: str | Path | None = None) -> dict[str, str]:
    """The YAML text of every rule file as load_rules reads it: the shipped default unless rules_dir replaces it."""
    texts: dict[str, str] = {}
    for name in RULE_FILES:
        path = _path(Path(rules_dir) if rules_dir else None, name)
        if path.is_file():
            texts[name] = path.read_text(encoding="utf-8")
    return texts


def load_texts(texts: dict[str, str]) -> RuleSet:
    """The rules from YAML texts (a saved version): a file not given is the shipped default."""
    problems = [Problem(name, "-", MESSAGES["unknown_file"].format(known=", ".join(RULE_FILES)))
                for name in sorted(texts) if name not in RULE_FILES]
    sources = {name: (name, text) for name, text in {**rule_texts(), **texts}.items() if name in RULE_FILES}
    return _rule_set(sources, problems)


def _path(override_dir: Path | None, name: str) -> Path:
    return override_dir / name if override_dir and (override_dir / name).is_file() else DEFAULTS_DIR / name


def load_rules(rules_dir: str | Path | None = None) -> RuleSet:
    """Validates every file; raises RulesError listing all problems rather than the first."""
    override_dir = Path(rules_dir) if rules_dir else None
    problems: list[Problem] = []
    if override_dir and override_dir.is_dir():
        for extra in sorted(override_dir.glob("*.yaml")):
            if extra.name not in RULE_FILES:
                problems.append(Problem(str(extra), "-", MESSAGES["unknown_file"].format(known=", ".join(RULE_FILES))))
    sources: dict[str, tuple[str, str]] = {}
    for name in RULE_FILES:
        path = _path(override_dir, name)
        if path.is_file():
            sources[name] = (name if path.parent == DEFAULTS_DIR else str(path), path.read_text(encoding="utf-8"))
    return _rule_set(sources, problems)
