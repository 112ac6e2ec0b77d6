"""The agency's working hours: which moments count when a lead waits for an answer.

Sunday to Thursday, 08:00–19:00 in the agency's zone by default (``OVENAI_WORKING_DAYS``,
``OVENAI_WORKING_HOURS``): a message written on Thursday evening has waited, on Sunday at
08:20, only the minutes of those two working days, not the weekend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from ovenai.errors import ConfigurationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order


@dataclass(frozen=True)
class WorkingHours:
    """Working days (weekday numbers) and the daily opening and closing times."""

    days: frozenset[int]
    opens: time
    closes: time
    zone: tzinfo

    @classmethod
    def parse(cls, days: str, hours: str, zone: tzinfo) -> WorkingHours:
        """From ``"sun,mon,tue,wed,thu"`` and ``"08:00-19:00"``; ConfigurationError if not."""
        try:
            numbers = frozenset(DAYS.index(day.strip().lower()[:3]) for day in days.split(","))
            opens, closes = (time.fromisoformat(part.strip()) for part in hours.split("-"))
        except ValueError:
            raise ConfigurationError(
                f"working days {days!r} / hours {hours!r}: write e.g. "
                "OVENAI_WORKING_DAYS=sun,mon,tue,wed,thu OVENAI_WORKING_HOURS=08:00-19:00"
            ) from None
        if closes <= opens:
            raise ConfigurationError(f"working hours {hours!r} must close after they open")
        return cls(numbers, opens, closes, zone)

    def is_open(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in working hours."""
        local = moment.astimezone(self.zone)
        return local.weekday() in self.days and self.opens <= local.time() < self.closes

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """How many working seconds lie between ``start`` and ``end``."""
        if end <= start:
            return 0.0
        total = 0.0
        day = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            if day.weekday() in self.days:
                opens = datetime.combine(day, self.opens, tzinfo=self.zone)
                closes = datetime.combine(day, self.closes, tzinfo=self.zone)
                overlap = min(end, closes) - max(start, opens)
                total += max(overlap, timedelta(0)).total_seconds()
            day += timedelta(days=1)
        return total
