"""SLA clock of a handoff, counted in support hours only."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from ks1bot.core.support_hours import SupportHours


@dataclass(frozen=True)
class SlaPolicy:
    """Support time until a person must have answered, by priority."""

    normal: dt.timedelta = dt.timedelta(hours=4)
    high: dt.timedelta = dt.timedelta(hours=1)

    def due(self, hours: SupportHours, created_at: dt.datetime, priority: str) -> dt.datetime:
        budget = self.high if priority == "high" else self.normal
        return hours.add_support_time(created_at, budget).astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class SlaState:
    #: "due", "overdue" or "done" (resolved or handed back).
    badge: str
    #: Support time left (negative: overdue by), None when done.
    remaining: Optional[dt.timedelta]

    @property
    def label(self) -> str:
        if self.badge == "done" or self.remaining is None:
            return "done"
        minutes = int(abs(self.remaining).total_seconds() // 60)
        text = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
        return f"overdue by {text}" if self.badge == "overdue" else f"due in {text}"


def sla_state(hours: SupportHours, due: dt.datetime, now: dt.datetime, done: bool) -> SlaState:
    """Due or overdue, and by how much support time (nights and weekends do not count)."""
    if done:
        return SlaState("done", None)
    if now >= due:
        return SlaState("overdue", -hours.support_time_between(due, now))
    return SlaState("due", hours.support_time_between(now, due))
