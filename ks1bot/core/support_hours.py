"""Support hours: Monday–Friday 08:30 ≤ t < 16:30 Europe/Berlin, closed on holidays."""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Dict, Optional
from zoneinfo import ZoneInfo

import holidays

from ks1bot.core.settings import SupportHoursSettings


class SupportHours:
    """When support is open. All inputs must be timezone-aware datetimes."""

    def __init__(self, settings: SupportHoursSettings) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)

    # -- days ---------------------------------------------------------------------
    def holiday_name(self, day: dt.date) -> Optional[str]:
        """The name of the public holiday or extra closed day on `day`, else None."""
        name = _holidays_for(day.year, self.settings.federal_state).get(day)
        if name:
            return name
        if day.strftime("%m-%d") in self.settings.extra_closed_days:
            return "extra closed day"
        if day.isoformat() in self.settings.extra_closed_days:
            return "extra closed day"
        return None

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() in self.settings.days and self.holiday_name(day) is None

    # -- instants -----------------------------------------------------------------
    def local(self, at: dt.datetime) -> dt.datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("support hours need a timezone-aware datetime")
        return at.astimezone(self.zone)

    def is_open(self, at: dt.datetime) -> bool:
        local = self.local(at)
        if not self.is_working_day(local.date()):
            return False
        return self.settings.opens <= local.time().replace(tzinfo=None) < self.settings.closes

    def _opening_on(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, self.settings.opens, tzinfo=self.zone)

    def _closing_on(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, self.settings.closes, tzinfo=self.zone)

    def next_opening(self, at: dt.datetime) -> dt.datetime:
        """The next time support opens strictly after `at` (local time zone)."""
        local = self.local(at)
        day = local.date()
        if self.is_working_day(day) and local < self._opening_on(day):
            return self._opening_on(day)
        for _ in range(400):
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                return self._opening_on(day)
        raise ValueError("support hours are never open within a year; check the settings")

    def add_support_time(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The instant at which `duration` of open support time has passed since `start`."""
        remaining = duration
        current = self.local(start)
        if not self.is_open(current):
            current = self.next_opening(current)
        while True:
            closing = self._closing_on(current.date())
            available = closing - current
            if remaining <= available:
                return current + remaining
            remaining -= available
            current = self.next_opening(closing)

    def support_time_between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Open support time between two instants (zero if end ≤ start)."""
        start, end = self.local(start), self.local(end)
        total = dt.timedelta()
        day = start.date()
        while day <= end.date():
            if self.is_working_day(day):
                lo = max(start, self._opening_on(day))
                hi = min(end, self._closing_on(day))
                if hi > lo:
                    total += hi - lo
            day += dt.timedelta(days=1)
        return total


@lru_cache(maxsize=64)
def _holidays_for(year: int, federal_state: Optional[str]) -> Dict[dt.date, str]:
    """Nationwide German holidays, plus the federal state's own when one is set."""
    if federal_state:
        return dict(holidays.country_holidays("DE", subdiv=federal_state, years=year))
    return dict(holidays.country_holidays("DE", years=year))
