"""Who may see whose data — the one place that answers it, for chat, cards, dashboards and exports.

A rep sees their own customers, a manager those of the teams they manage (and their own), an admin all.
A customer with no owner is the open pool: anyone may see it (and a rep's 新线索 may take it up).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, true
from sqlmodel import Session

from store.models import Customer, Opportunity, Team, User

AUDITED_ROLES = frozenset({"manager", "admin"})  # their reads of customer data go to the audit log


def reps_in_scope(session: Session, viewer: User) -> list[str] | None:
    """The user ids whose data the viewer may see, sorted; None means everyone (an admin)."""
    if viewer.role == "admin":
        return None
    if viewer.role != "manager":
        return [viewer.id]
    teams = set(session.execute(select(Team.id).where(Team.manager_id == viewer.id)).scalars())
    members = session.execute(select(User.id).where(User.team_id.in_(teams))).scalars() if teams else []  # type: ignore[union-attr]
    return sorted({viewer.id, *members})


def owns(owners: list[str] | None, owner_id: str | None) -> bool:
    """Whether a row owned by `owner_id` is inside the scope `owners` (from `reps_in_scope`)."""
    return owners is None or owner_id in owners


def customer_clause(owners: list[str] | None) -> Any:
    """A WHERE clause on Customer for the scope: the owners' customers and the unowned pool."""
    if owners is None:
        return true()
    return or_(Customer.owner_id.in_(owners), Customer.owner_id.is_(None))  # type: ignore[union-attr]


def can_see_customer(session: Session, viewer: User, customer: Customer) -> bool:
    return customer.owner_id is None or owns(reps_in_scope(session, viewer), customer.owner_id)


def can_see_opportunity(session: Session, viewer: User, opportunity: Opportunity) -> bool:
    return owns(reps_in_scope(session, viewer), opportunity.owner_id)


def is_audited(viewer: User) -> bool:
    return viewer.role in AUDITED_ROLES
