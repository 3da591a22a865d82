"""Keeping users in step with the platform's contacts: contact-change events and `org sync`, on both channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.events import Context, Event, Route, on_kind
from store.models import AuditLog, User

CHANGES = ("create_user", "update_user", "delete_user")
LEFT_STATUSES = {"2", "5"}  # WeCom member status: 2 disabled, 5 left the company


@dataclass(frozen=True)
class Member:
    """A person as the platform's contacts describe them; None means "not said, keep what we have"."""

    userid: str
    name: str | None = None
    leader: bool | None = None
    team_id: int | None = None
    active: bool = True


def _platform_id(channel: str) -> str:
    """The User column holding this channel's userid."""
    if channel not in ("wecom", "dingtalk"):
        raise ValueError(f"no contacts on channel {channel!r}")
    return f"{channel}_userid"


def find(session: Session, channel: str, userid: str) -> User | None:
    """By the platform's userid, active or not, so a returning member gets their old row back."""
    return session.exec(select(User).where(col(getattr(User, _platform_id(channel))) == userid)).first()


def upsert_member(session: Session, channel: str, member: Member, *, now: datetime) -> tuple[User, bool]:
    """Creates (role rep, or manager for a leader) or updates the user; returns (user, created)."""
    column = _platform_id(channel)
    user = find(session, channel, member.userid)
    created = user is None
    if user is None:
        same_id = session.get(User, member.userid)
        if same_id is not None and getattr(same_id, column) is None:  # imported from an org file before
            user = same_id
        else:
            user_id = member.userid if same_id is None else f"{channel}_{member.userid}"[:64]
            user = User(id=user_id, name=member.name or member.userid, role="rep", created_at=now)
        setattr(user, column, member.userid)
    if member.name:
        user.name = member.name
    if member.leader and user.role == "rep":
        user.role = "manager"
    if member.team_id is not None:
        user.team_id = member.team_id
    user.active = member.active
    session.add(user)
    return user, created


def _wecom_change(payload: dict) -> tuple[str | None, Member | None, str | None]:
    """(change, member, new userid) from a WeCom `change_contact` callback."""
    userid = payload.get("UserID")
    if not userid:
        return None, None, None
    leaders = payload.get("IsLeaderInDept")
    member = Member(userid=userid, name=payload.get("Name"), leader=any(leaders) if leaders is not None else None,
                    active=str(payload.get("Status", "1")) not in LEFT_STATUSES)
    return payload.get("ChangeType"), member, payload.get("NewUserID")


def _dingtalk_change(payload: dict) -> tuple[str | None, Member | None, str | None]:
    """DingTalk's contact events name only the member; `org sync dingtalk` fills in the rest."""
    userid = payload.get("user_id")
    return payload.get("change"), Member(userid=userid) if userid else None, None


def contact_change(event: Event, ctx: Context) -> None:
    """create_user / update_user / delete_user by the platform's userid; department changes wait for `org sync`."""
    parse = _wecom_change if event.channel == "wecom" else _dingtalk_change
    change, member, new_userid = parse(event.payload)
    if member is None or change not in CHANGES:
        return
    if change == "delete_user":
        user = find(ctx.session, event.channel, member.userid)
        if user is not None:
            user.active = False
            ctx.session.add(user)
    else:
        user, _ = upsert_member(ctx.session, event.channel, member, now=ctx.now)
        if new_userid:
            user.wecom_userid = new_userid
    ctx.session.add(AuditLog(at=ctx.now, actor=event.channel, action=f"contact_change:{change}", target=member.userid,
                             detail=event.payload))


ROUTES: list[Route] = [on_kind("contact_change", contact_change)]
