"""`liuhen org import`: validates the org file (problems name their line) and upserts teams and users."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, select

from store.models import Team, User

ROLES = ("rep", "manager", "admin")
USER_KEYS = {"id", "name", "role", "team", "wecom_userid", "dingtalk_userid", "hired_on"}
TEAM_KEYS = {"name", "manager", "region"}
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

TEXT = {
    "bad_yaml": "不是合法的 YAML：{error}",
    "shape": "顶层应包含 teams 与 users 两个列表",
    "not_list": "{key} 应为列表",
    "not_mapping": "每一项应为键值映射",
    "unknown_key": "未知的键 {key}",
    "missing": "缺少 {key}",
    "bad_role": "role 应为 rep、manager 或 admin，而不是 {value}",
    "duplicate_user": "用户 id 重复：{value}",
    "duplicate_team": "团队名称重复：{value}",
    "unknown_team": "未知的团队 {value}（teams 里没有）",
    "unknown_manager": "未知的主管 {value}（users 里没有）",
    "bad_date": "hired_on 应为日期 YYYY-MM-DD，而不是 {value}",
    "duplicate_platform": "{key} 重复：{value}",
}


class OrgFileError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class OrgSummary:
    teams: int
    users: int


class _LineLoader(yaml.SafeLoader):
    """Remembers each mapping's line so that a problem can point at it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Returns (teams, users) or raises OrgFileError listing every problem as `file:line: key: message`."""
    label = str(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 (safe subclass)
    except yaml.YAMLError as exc:
        raise OrgFileError([f"{label}: {TEXT['bad_yaml'].format(error=str(exc).splitlines()[0])}"]) from None
    if not isinstance(data, dict):
        raise OrgFileError([f"{label}: {TEXT['shape']}"])
    problems: list[str] = []
    teams = _items(data, "teams", label, problems)
    users = _items(data, "users", label, problems)

    def problem(item: dict[str, Any], key: str, message: str) -> None:
        problems.append(f"{label}:{item['__line__']}: {key}: {message}")

    team_names: set[str] = set()
    for team in teams:
        for key in sorted(set(team) - TEAM_KEYS - {"__line__"}):
            problem(team, key, TEXT["unknown_key"].format(key=key))
        if not team.get("name"):
            problem(team, "name", TEXT["missing"].format(key="name"))
        elif str(team["name"]) in team_names:
            problem(team, "name", TEXT["duplicate_team"].format(value=team["name"]))
        team_names.add(str(team.get("name")))
    user_ids: set[str] = set()
    platform_ids: dict[str, set[str]] = {"wecom_userid": set(), "dingtalk_userid": set()}
    for user in users:
        for key in sorted(set(user) - USER_KEYS - {"__line__"}):
            problem(user, key, TEXT["unknown_key"].format(key=key))
        for key in ("id", "name", "role"):
            if not user.get(key):
                problem(user, key, TEXT["missing"].format(key=key))
        if user.get("role") and user["role"] not in ROLES:
            problem(user, "role", TEXT["bad_role"].format(value=user["role"]))
        if user.get("id"):
            if str(user["id"]) in user_ids:
                problem(user, "id", TEXT["duplicate_user"].format(value=user["id"]))
            user_ids.add(str(user["id"]))
        if user.get("team") and str(user["team"]) not in team_names:
            problem(user, "team", TEXT["unknown_team"].format(value=user["team"]))
        if user.get("hired_on") is not None:
            hired_on = _day(user["hired_on"])
            if hired_on is None:
                problem(user, "hired_on", TEXT["bad_date"].format(value=user["hired_on"]))
            user["hired_on"] = hired_on
        for key, seen in platform_ids.items():
            if user.get(key):
                if str(user[key]) in seen:
                    problem(user, key, TEXT["duplicate_platform"].format(key=key, value=user[key]))
                seen.add(str(user[key]))
    for team in teams:
        if team.get("manager") and str(team["manager"]) not in user_ids:
            problem(team, "manager", TEXT["unknown_manager"].format(value=team["manager"]))
    if problems:
        raise OrgFileError(problems)
    return teams, users


def _day(value: object) -> date | None:
    """`2024-06-03` as YAML reads it (a date) or as a quoted string, which HR exports and YAML writers produce."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and ISO_DAY.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _items(data: dict[str, Any], key: str, label: str, problems: list[str]) -> list[dict[str, Any]]:
    value = data.get(key) or []
    if not isinstance(value, list):
        problems.append(f"{label}:{data.get('__line__', 1)}: {key}: {TEXT['not_list'].format(key=key)}")
        return []
    good = [item for item in value if isinstance(item, dict)]
    if len(good) != len(value):
        problems.append(f"{label}: {key}: {TEXT['not_mapping']}")
    return good


def apply(session: Session, teams: list[dict[str, Any]], users: list[dict[str, Any]]) -> OrgSummary:
    """Upserts by team name and user id; running it twice changes nothing the second time."""
    team_rows: dict[str, Team] = {}
    for item in teams:
        name = str(item["name"])
        row = session.exec(select(Team).where(Team.name == name)).first() or Team(name=name)
        row.region = item.get("region")
        session.add(row)
        team_rows[name] = row
    session.flush()
    for item in users:
        row = session.get(User, str(item["id"])) or User(id=str(item["id"]), name="", role="rep")
        row.name = str(item["name"])
        row.role = str(item["role"])
        row.team_id = team_rows[str(item["team"])].id if item.get("team") else None
        row.wecom_userid = str(item["wecom_userid"]) if item.get("wecom_userid") else None
        row.dingtalk_userid = str(item["dingtalk_userid"]) if item.get("dingtalk_userid") else None
        row.hired_on = item.get("hired_on")
        row.active = True
        session.add(row)
    session.flush()
    for item in teams:
        team_rows[str(item["name"])].manager_id = str(item["manager"]) if item.get("manager") else None
        session.add(team_rows[str(item["name"])])
    return OrgSummary(teams=len(teams), users=len(users))
