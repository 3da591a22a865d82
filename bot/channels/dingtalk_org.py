"""`liuhen org sync dingtalk`: departments become teams and members become users, keyed by DingTalk userid."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from bot.channels.dingtalk_api import DingTalkApi
from store.models import Team, User

ROOT_DEPT = 1  # the company itself: its members are synced, it is not a team
PAGE_SIZE = 100  # the most /topapi/v2/user/list returns at once


@dataclass(frozen=True)
class SyncSummary:
    teams: int
    users: int
    created: int


def departments(api: DingTalkApi, parent: int = ROOT_DEPT) -> Iterator[dict[str, Any]]:
    """Every department below `parent`, parents before children."""
    for dept in api.oapi("/topapi/v2/department/listsub", json={"dept_id": parent}).get("result") or []:
        yield dept
        yield from departments(api, int(dept["dept_id"]))


def members(api: DingTalkApi, dept_id: int) -> Iterator[dict[str, Any]]:
    cursor: int | None = 0
    while cursor is not None:
        page = api.oapi("/topapi/v2/user/list", json={"dept_id": dept_id, "cursor": cursor, "size": PAGE_SIZE})
        result = page.get("result") or {}
        yield from result.get("list") or []
        cursor = int(result["next_cursor"]) if result.get("has_more") else None


def _user_for(session: Session, userid: str, name: str, now: datetime) -> tuple[User, bool]:
    """By dingtalk_userid; else the row of the same id that has none yet (an org-file import); else a new one."""
    user = session.exec(select(User).where(User.dingtalk_userid == userid)).first()
    if user is not None:
        return user, False
    same_id = session.get(User, userid)
    if same_id is not None and same_id.dingtalk_userid is None:
        return same_id, False
    return User(id=userid if same_id is None else f"dingtalk_{userid}"[:64], name=name, role="rep",
                created_at=now), True


def sync_org(api: DingTalkApi, session: Session, *, now: datetime) -> SyncSummary:
    """Leaders become managers (an admin stays admin) and their team's manager; running it twice changes nothing."""
    teams: dict[int, Team] = {}
    for dept in departments(api):
        name = str(dept["name"])
        teams[int(dept["dept_id"])] = session.exec(select(Team).where(Team.name == name)).first() or Team(name=name)
        session.add(teams[int(dept["dept_id"])])
    session.flush()
    people: dict[str, dict[str, Any]] = {}
    leaders: dict[int, list[str]] = {}
    for dept_id in [ROOT_DEPT, *teams]:
        for person in members(api, dept_id):
            people.setdefault(str(person["userid"]), person)
            if person.get("leader"):
                leaders.setdefault(dept_id, []).append(str(person["userid"]))
    leading = {userid for ids in leaders.values() for userid in ids}
    rows: dict[str, User] = {}
    created = 0
    for userid, person in people.items():
        user, new = _user_for(session, userid, str(person.get("name") or userid), now)
        created += new
        user.name = str(person.get("name") or user.name)
        user.dingtalk_userid = userid
        team = next((teams[int(d)] for d in person.get("dept_id_list") or [] if int(d) in teams), None)
        if team is not None:
            user.team_id = team.id
        if userid in leading and user.role == "rep":
            user.role = "manager"
        user.active = bool(person.get("active", True))
        session.add(user)
        rows[userid] = user
    session.flush()
    for dept_id, ids in leaders.items():
        if dept_id in teams:
            teams[dept_id].manager_id = rows[ids[0]].id
            session.add(teams[dept_id])
    return SyncSummary(teams=len(teams), users=len(people), created=created)
