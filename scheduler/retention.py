"""Retention sweep: raw captured chat text older than the window is blanked (privacy.yaml)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from rules.loader import RuleSet
from store.privacy import forget_old_messages


def run(session: Session, at: datetime, rules: RuleSet, tz: ZoneInfo) -> int:
    return forget_old_messages(session, before=at - timedelta(days=rules.privacy.messages_days))
