"""`liuhen org sync dingtalk`: departments become teams and members become users, keyed by DingTalk userid."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from bot.channels.dingtalk_api import DingTalkApi
from handlers.org import Member, upsert_member
from store.models import Team, User

ROOT_DEPT = 1  # the company itself: its members are synced, it is not a team
PAGE_SIZE = 100  # the most /topapi/v2/user/list returns at once


@dataclass(frozen=True)
class SyncSummary:
    teams: int
    users: int
    created: int
    left: int = 0  # had a dingtalk_userid, missing from the address book now: deactivated


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


def sync_org(api: DingTalkApi, session: Session, *, now: datetime) -> SyncSummary:
    """Leaders become managers (an admin stays admin) and their team's manager; running it twice changes nothing.

    Everyone in the address book is employed: user/list's `active` only says whether they have activated
    DingTalk yet, so an invited rep is not a leaver. Who is missing from this full sync has left."""
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
        team = next((teams[int(d)] for d in person.get("dept_id_list") or [] if int(d) in teams), None)
        member = Member(userid=userid, name=str(person.get("name") or userid), leader=userid in leading,
                        team_id=team.id if team else None, active=True)
        rows[userid], new = upsert_member(session, "dingtalk", member, now=now)
        created += new
    session.flush()
    synced = session.exec(select(User).where(User.dingtalk_userid.is_not(None))).all()  # type: ignore[union-attr]
    gone = [user for user in synced if user.active and user.dingtalk_userid not in people]
    for user in gone:
        user.active = False
        session.add(user)
    for dept_id, ids in leaders.items():
        if dept_id in teams:
            teams[dept_id].manager_id = rows[ids[0]].id
            session.add(teams[dept_id])
    return SyncSummary(teams=len(teams), users=len(people), created=created, left=len(gone))
