"""The time the domain sees: real time, unless a rehearsal or test runs the clock ahead.

A service asks its `Clock` for now and today instead of the system clock, so that a
rehearsal environment (or a test) can run a workshop's days before they come
(SCORE_CLOCK_OFFSET_DAYS). Stored times stay real UTC instants.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from nameko.extensions import DependencyProvider

from score_common.store import utcnow


class Clock(DependencyProvider):
    def setup(self):
        self.offset = timedelta(days=float(
            self.container.config.get("SCORE_CLOCK_OFFSET_DAYS", 0) or 0))

    def get_dependency(self, worker_ctx):
        return self

    def now(self) -> datetime:
        return utcnow() + self.offset

    def today(self, zone: str = "Asia/Jakarta") -> date:
        """Today's date on a clock in this zone (Indonesia's days begin at WIB, WITA or WIT)."""
        return self.now().astimezone(ZoneInfo(zone)).date()
