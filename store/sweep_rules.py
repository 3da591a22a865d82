"""Which rules each by-change sweep last judged its stored instants with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session

from store.db import insert_many_ignoring_conflict
from store.models import SweepRules


def changed(session: Session, sweep: str, fingerprint: str, *, at: datetime) -> bool:
    """Records `fingerprint` as the rules `sweep` now judges with; True when it differs from the last recorded
    (or none was: a new or upgraded database), so the sweep must recompute every stored instant.

    Two sweeps racing on a new database both recompute (harmless: the recompute is idempotent)."""
    recorded = session.get(SweepRules, sweep)
    if recorded is None:
        values = {"sweep": sweep, "fingerprint": fingerprint, "applied_at": at}
        insert_many_ignoring_conflict(session, SweepRules, [values], ["sweep"], returning="sweep")
        return True
    if recorded.fingerprint == fingerprint:
        return False
    session.execute(update(SweepRules).where(SweepRules.sweep == sweep).values(fingerprint=fingerprint, applied_at=at))
    return True
