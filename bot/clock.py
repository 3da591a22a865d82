"""The one place time is read: real in `serve`, shiftable in the demo, explicit in sweeps and tests."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    """Wall time plus an offset; `frozen_at` pins it for tests. Thread-safe to shift."""

    def __init__(self, tz: ZoneInfo, *, frozen_at: datetime | None = None) -> None:
        if frozen_at is not None and frozen_at.tzinfo is None:
            raise ValueError("frozen_at must be timezone-aware")
        self.tz = tz
        self._frozen_at = frozen_at
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current instant, UTC-aware."""
        with self._lock:
            base = self._frozen_at if self._frozen_at is not None else datetime.now(UTC)
            return (base + self._offset).astimezone(UTC)

    def local_now(self) -> datetime:
        return self.now().astimezone(self.tz)

    def today(self) -> date:
        """The business date in the configured time zone."""
        return self.local_now().date()

    def advance(self, delta: timedelta) -> datetime:
        """Moves this clock (the demo's "快进"); returns the new instant."""
        with self._lock:
            self._offset += delta
        return self.now()

    def set(self, instant: datetime) -> None:
        """Pins the clock to an instant (tests, `jobs run --at`)."""
        if instant.tzinfo is None:
            raise ValueError("instant must be timezone-aware")
        with self._lock:
            self._frozen_at = instant
            self._offset = timedelta(0)
