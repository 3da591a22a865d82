"""Which rules each by-change sweep last judged its stored instants with."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from store.models import SweepRules


def changed(session: Session, sweep: str, fingerprint: str, *, at: datetime) -> bool:
    """Records `fingerprint` as the rules `sweep` now judges with; True when it differs from the last recorded
    (or none was: a new or upgraded database), so the sweep must recompute every stored instant."""
    row = session.get(SweepRules, sweep)
    if row is not None and row.fingerprint == fingerprint:
        return False
    session.merge(SweepRules(sweep=sweep, fingerprint=fingerprint, applied_at=at))
    return True
