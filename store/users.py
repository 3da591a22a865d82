"""Looking people up: by platform id for inbound events, and by role for notifications."""

from __future__ import annotations

from sqlmodel import Session, select

from store.models import Team, User

PLATFORM_COLUMNS = {
    "local": User.id,
    "wecom": User.wecom_userid,
    "dingtalk": User.dingtalk_userid,
}


def by_platform_id(session: Session, channel: str, platform_id: str) -> User | None:
    column = PLATFORM_COLUMNS.get(channel)
    if column is None:
        return None
    return session.exec(select(User).where(column == platform_id, User.active.is_(True))).first()  # type: ignore[attr-defined]


def admins(session: Session) -> list[User]:
    return list(session.exec(select(User).where(User.role == "admin", User.active.is_(True))).all())  # type: ignore[attr-defined]


def manager_of(session: Session, user: User) -> User | None:
    if user.team_id is None:
        return None
    team = session.get(Team, user.team_id)
    return session.get(User, team.manager_id) if team and team.manager_id else None


def team_of(session: Session, user: User) -> list[User]:
    """The people a leaderboard is about: the user's team, plus the teams a manager leads."""
    team_ids = {user.team_id} if user.team_id is not None else set()
    team_ids |= set(session.exec(select(Team.id).where(Team.manager_id == user.id)).all())
    if not team_ids:
        return [user]
    return list(session.exec(select(User).where(User.team_id.in_(team_ids), User.active.is_(True))  # type: ignore[union-attr,attr-defined]
                             .order_by(User.id)).all())


def team_name(session: Session, user: User) -> str | None:
    team = session.exec(select(Team).where(Team.manager_id == user.id)).first() or (
        session.get(Team, user.team_id) if user.team_id else None)
    return team.name if team else None


def teams(session: Session) -> list[Team]:
    return list(session.exec(select(Team).order_by(Team.id)).all())
