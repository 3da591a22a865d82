"""Notification discipline: quiet hours decide when a scheduled push may go out."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from rules.schema import NotifyFile


def in_quiet_hours(moment: time, notify: NotifyFile) -> bool:
    start, end = notify.quiet_hours.start, notify.quiet_hours.end
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end


def delivery_time(at: datetime, tz: ZoneInfo, notify: NotifyFile) -> datetime:
    """When a push computed at `at` may go out: now, or the next `resume_at` after quiet hours."""
    local = at.astimezone(tz)
    if not in_quiet_hours(local.timetz().replace(tzinfo=None), notify):
        return at
    resume = datetime.combine(local.date(), notify.quiet_hours.resume_at, tz)
    if resume <= local:
        resume += timedelta(days=1)
    return resume
