"""Saved rule configurations: each save or rollback is a new row, the newest is active, a stale save is refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from store import audit
from store.models import RuleVersion

SAVED = "rules.saved"
RESTORED = "rules.restored"


class StaleVersion(Exception):
    """Another save came first: the editor's version is no longer the active one."""

    def __init__(self, based_on: int | None, active: int | None) -> None:
        super().__init__(f"based on {based_on}, active {active}")
        self.based_on, self.active = based_on, active


def active_id(session: Session) -> int | None:
    """The active version's id (None: no version saved, the files on disk apply); one indexed MAX, cheap to poll."""
    return session.execute(select(func.max(RuleVersion.id))).scalar_one()


def active(session: Session) -> RuleVersion | None:
    found = active_id(session)
    return session.get(RuleVersion, found) if found is not None else None


def history(session: Session, *, limit: int = 50) -> list[RuleVersion]:
    return list(session.execute(select(RuleVersion).order_by(RuleVersion.id.desc()).limit(limit)).scalars())


def save(session: Session, *, files: dict[str, str], modules: dict[str, bool], author: str, why: str,
         based_on: int | None, at: datetime, restored_from: int | None = None) -> RuleVersion:
    """Writes a new active version if `based_on` is still the active one, and audits it; else StaleVersion.

    Two saves racing on one base: both may pass the check, but only one can take the next id, and the
    loser's insert fails on the primary key (its transaction rolls back), so nothing is silently overwritten."""
    current = active_id(session)
    if based_on != current:
        raise StaleVersion(based_on, current)
    row = RuleVersion(id=(current or 0) + 1, created_at=at, author=author, why=why, based_on=based_on,
                      restored_from=restored_from, files=files, modules=modules)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # the other save took this id between our check and our insert
        raise StaleVersion(based_on, row.id) from None
    before = session.get(RuleVersion, current).files if current is not None else {}
    changed = sorted(name for name, text in files.items() if before.get(name) != text)
    detail: dict[str, Any] = {"version": row.id, "based_on": based_on, "why": why, "files": changed}
    if restored_from is not None:
        detail["restored_from"] = restored_from
    audit.record(session, at=at, actor=author, action=RESTORED if restored_from is not None else SAVED,
                 target=f"rules:{row.id}", detail=detail)
    return row
