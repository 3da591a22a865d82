"""Keeping users in step with the platform's contacts: WeCom `change_contact` callbacks and `org sync`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from bot.events import Context, Event, Route, on_kind
from store.models import AuditLog, User

ACTOR = "wecom"
LEFT_STATUSES = {"2", "5"}  # WeCom member status: 2 disabled, 5 left the company


@dataclass(frozen=True)
class Member:
    """A person as the platform's contacts describe them; None means "not said, keep what we have"."""

    userid: str
    name: str | None = None
    leader: bool | None = None
    team_id: int | None = None
    active: bool = True


def find(session: Session, userid: str) -> User | None:
    """By WeCom userid, active or not, so a returning member gets their old row back."""
    return session.exec(select(User).where(User.wecom_userid == userid)).first()


def upsert_member(session: Session, member: Member, *, now: datetime) -> tuple[User, bool]:
    """Creates (role rep, or manager for a leader) or updates the user; returns (user, created)."""
    user = find(session, member.userid)
    created = user is None
    if user is None:
        same_id = session.get(User, member.userid)
        if same_id is not None and same_id.wecom_userid is None:  # imported from an org file before
            user = same_id
        else:
            user_id = member.userid if same_id is None else f"wecom_{member.userid}"[:64]
            user = User(id=user_id, name=member.name or member.userid, role="rep", created_at=now)
        user.wecom_userid = member.userid
    if member.name:
        user.name = member.name
    if member.leader and user.role == "rep":
        user.role = "manager"
    if member.team_id is not None:
        user.team_id = member.team_id
    user.active = member.active
    session.add(user)
    return user, created


def contact_change(event: Event, ctx: Context) -> None:
    """create_user / update_user / delete_user by WeCom userid; department changes wait for `org sync`."""
    payload = event.payload
    change, userid = payload.get("ChangeType"), payload.get("UserID")
    if not userid or change not in ("create_user", "update_user", "delete_user"):
        return
    if change == "delete_user":
        user = find(ctx.session, userid)
        if user is not None:
            user.active = False
            ctx.session.add(user)
    else:
        leaders = payload.get("IsLeaderInDept")
        member = Member(userid=userid, name=payload.get("Name"), leader=any(leaders) if leaders is not None else None,
                        active=str(payload.get("Status", "1")) not in LEFT_STATUSES)
        user, _ = upsert_member(ctx.session, member, now=ctx.now)
        if payload.get("NewUserID"):
            user.wecom_userid = payload["NewUserID"]
    ctx.session.add(AuditLog(at=ctx.now, actor=ACTOR, action=f"contact_change:{change}", target=userid,
                             detail=payload))


ROUTES: list[Route] = [on_kind("contact_change", contact_change)]
