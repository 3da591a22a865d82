"""Operator actions against WeCom: pulling departments and members into teams and users, installing the menu."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from bot.channels.wecom_api import WeComApi
from handlers.org import LEFT_STATUSES, Member, find, upsert_member
from store.models import Team

# WeCom allows 3 top-level buttons of up to 5 sub-buttons; each key is the command word the router runs.
MENU_TOP = ("日报速记", "新线索")
MENU_MORE = ("预测", "看板", "帮助")
TEXT = {"more": "更多"}


@dataclass(frozen=True)
class SyncSummary:
    teams: int
    users: int
    created: int


def menu() -> dict[str, Any]:
    def click(word: str) -> dict[str, str]:
        return {"type": "click", "name": word, "key": word}

    return {"button": [click(w) for w in MENU_TOP]
            + [{"name": TEXT["more"], "sub_button": [click(w) for w in MENU_MORE]}]}


def install_menu(api: WeComApi) -> None:
    api.call("POST", "menu/create", params={"agentid": api.config.agent_id}, json=menu())


def sync_org(api: WeComApi, session: Session, *, now: datetime) -> SyncSummary:
    """Teams by department name, users by userid; leaders become managers. Running it twice changes nothing."""
    departments = api.call("GET", "department/list")["department"]
    teams: dict[int, Team] = {}
    for dept in departments:
        team = session.exec(select(Team).where(Team.name == dept["name"])).first() or Team(name=dept["name"])
        session.add(team)
        teams[int(dept["id"])] = team
    session.flush()
    members: dict[str, dict[str, Any]] = {}
    for dept_id in teams:
        for person in api.call("GET", "user/list", params={"department_id": dept_id})["userlist"]:
            members.setdefault(person["userid"], person)
    leaders = {userid for dept in departments for userid in dept.get("department_leader") or []}
    created = 0
    for userid, person in members.items():
        depts = [int(d) for d in person.get("department") or []]
        main = int(person.get("main_department") or (depts[0] if depts else 0))
        team = teams.get(main) or next((teams[d] for d in depts if d in teams), None)
        member = Member(userid=userid, name=person.get("name") or userid,
                        leader=userid in leaders or any(person.get("is_leader_in_dept") or []),
                        team_id=team.id if team else None, active=str(person.get("status", 1)) not in LEFT_STATUSES)
        created += upsert_member(session, "wecom", member, now=now)[1]
    session.flush()
    for dept in departments:
        leader = next((u for u in (find(session, "wecom", userid) for userid in dept.get("department_leader") or []) if u),
                      None)
        if leader is not None:
            teams[int(dept["id"])].manager_id = leader.id
            session.add(teams[int(dept["id"])])
    return SyncSummary(teams=len(teams), users=len(members), created=created)
