"""Working hours: only the agency's working minutes count while a lead waits."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ovenai.errors import ConfigurationError
from ovenai.working_hours import WorkingHours

ISRAEL = ZoneInfo("Asia/Jerusalem")
HOURS = WorkingHours.parse("sun,mon,tue,wed,thu", "08:00-19:00", ISRAEL)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=ISRAEL)  # 19/11/2026 is a Thursday


def test_a_thursday_evening_message_waits_only_working_minutes_over_the_weekend() -> None:
    assert HOURS.seconds_between(at(19, 18, 50), at(22, 8, 20)) == 30 * 60  # 10 + 20 minutes
    assert HOURS.seconds_between(at(19, 20), at(22, 7, 59)) == 0  # the weekend and the night
    assert HOURS.seconds_between(at(22, 9), at(23, 9)) == 11 * 3600  # one working day


def test_open_only_on_working_days_between_opening_and_closing() -> None:
    assert HOURS.is_open(at(22, 8)) and HOURS.is_open(at(19, 18, 59))
    assert not HOURS.is_open(at(19, 19)) and not HOURS.is_open(at(20, 10))  # Friday
    assert not HOURS.is_open(at(21, 12))  # Saturday


@pytest.mark.parametrize(("days", "hours"), [("sun,funday", "08:00-19:00"), ("sun", "19:00-08:00")])
def test_working_hours_that_make_no_sense_are_refused(days: str, hours: str) -> None:
    with pytest.raises(ConfigurationError):
        WorkingHours.parse(days, hours, ISRAEL)
