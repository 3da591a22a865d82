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


class RulesError(Exception):
    """Every problem found, each as `file:key: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


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
    return str(item["msg"]).removeprefix("Value error, ")


# libyaml's safe loader when PyYAML was built with it: rules load at every start and reload, ≈ 10× faster.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(path: Path, model: type[BaseModel], problems: list[str]) -> BaseModel | None:
    label = path.name if path.parent == DEFAULTS_DIR else str(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        problems.append(f"{label}:-: " + MESSAGES["bad_yaml"].format(error=str(exc).replace("\n", " ")))
        return None
    if not isinstance(data, dict):
        problems.append(f"{label}:-: " + MESSAGES["not_mapping"])
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(f"{label}:{_loc(item['loc'])}: {_message(item)}" for item in exc.errors())
        return None


def load_rules(rules_dir: str | Path | None = None) -> RuleSet:
    """Validates every file; raises RulesError listing all problems rather than the first."""
    override_dir = Path(rules_dir) if rules_dir else None
    problems: list[str] = []
    if override_dir and override_dir.is_dir():
        for extra in sorted(override_dir.glob("*.yaml")):
            if extra.name not in RULE_FILES:
                problems.append(f"{extra}:-: " + MESSAGES["unknown_file"].format(known=", ".join(RULE_FILES)))
    loaded: dict[str, BaseModel] = {}
    for name, (attribute, model) in RULE_FILES.items():
        path = override_dir / name if override_dir and (override_dir / name).is_file() else DEFAULTS_DIR / name
        if not path.is_file():
            problems.append(f"{name}:-: " + MESSAGES["missing_default"])
            continue
        parsed = _parse(path, model, problems)
        if parsed is not None:
            loaded[attribute] = parsed
    problems += cross_problems(loaded)
    if problems:
        raise RulesError(problems)
    return RuleSet(**loaded)  # type: ignore[arg-type]
