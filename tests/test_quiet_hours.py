"""Quiet times for marketing (ovenai.quiet_hours): nights, Shabbat and Yom Tov in Israel,
on known dates, against published Jerusalem times, and with each part switched off."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ovenai.quiet_hours import QuietHours, nightfall, sunset, yom_tov
from ovenai.settings import Settings

IL = ZoneInfo("Asia/Jerusalem")
QUIET = QuietHours()


def at(text: str) -> datetime:
    """A moment in Israel's time, written as in a calendar ("2026-12-11 16:15")."""
    return datetime.fromisoformat(text).replace(tzinfo=IL)


def close(actual: datetime, published: str, minutes: int = 3) -> bool:
    return abs(actual - at(published)) <= timedelta(minutes=minutes)


# Published candle lighting (40 minutes before sunset) and Shabbat's end in Jerusalem.
PUBLISHED = [
    ("2026-02-20", "2026-02-20 16:49", "2026-02-21 18:07"),
    ("2025-10-10", "2025-10-10 17:37", "2025-10-11 18:50"),
    ("2019-12-06", "2019-12-06 15:55", "2019-12-07 17:15"),
]


@pytest.mark.parametrize(("friday", "candles", "ends"), PUBLISHED)
def test_shabbat_starts_and_ends_within_minutes_of_the_published_jerusalem_times(
    friday: str, candles: str, ends: str
) -> None:
    day = date.fromisoformat(friday)
    assert close(sunset(day) - timedelta(minutes=40), candles)
    assert close(nightfall(day + timedelta(days=1)), ends)
    held = QUIET.hold(at(candles) + timedelta(minutes=3))
    assert held is not None and held.reason.kind == "shabbat"
    assert close(held.until, ends)


def test_friday_afternoon_before_candle_lighting_is_not_quiet_and_after_it_is() -> None:
    start = sunset(date(2026, 12, 11)) - timedelta(minutes=40)  # 15:55
    assert not QUIET.is_quiet(start - timedelta(minutes=1))
    assert QUIET.is_quiet(start)
    assert QUIET.reason(start).label("he") == "שבת"  # type: ignore[union-attr]
    assert QUIET.next_allowed(start) == nightfall(date(2026, 12, 12))
    assert QUIET.next_allowed(at("2026-12-12 12:00")) == nightfall(date(2026, 12, 12))


def test_saturday_night_after_nightfall_is_allowed_until_the_night_begins() -> None:
    assert not QUIET.is_quiet(at("2026-12-12 17:30"))
    assert not QUIET.is_quiet(at("2026-12-12 20:59"))
    night = QUIET.hold(at("2026-12-12 21:00"))
    assert night is not None and night.reason.kind == "night"
    assert night.until == at("2026-12-13 08:00")
    assert night.reason.label() == "night" and night.reason.label("he") == "לילה"


def test_nights_run_from_21_to_08_and_a_time_outside_is_its_own_next_allowed() -> None:
    assert QUIET.next_allowed(at("2026-12-08 23:30")) == at("2026-12-09 08:00")
    assert QUIET.next_allowed(at("2026-12-09 07:59")) == at("2026-12-09 08:00")
    noon = at("2026-12-09 12:00")
    assert QUIET.next_allowed(noon) == noon and QUIET.hold(noon) is None


def test_a_summer_friday_evening_waits_for_saturday_nightfall() -> None:
    held = QUIET.hold(at("2027-06-25 19:30"))  # sunset 19:47, candles 19:07
    assert held is not None and held.reason.kind == "shabbat"
    assert close(held.until, "2027-06-26 20:30")
    assert not QUIET.is_quiet(at("2027-06-26 20:45"))


def test_the_yom_tov_days_of_2026_and_2027_and_not_independence_day() -> None:
    assert yom_tov(date(2026, 9, 21)) == ("Yom Kippur", "יום כיפור")
    assert yom_tov(date(2027, 4, 22)) == ("Pesach", "פסח")
    assert yom_tov(date(2026, 5, 22)) == ("Shavuot", "שבועות")
    assert yom_tov(date(2026, 4, 22)) is None  # Independence Day: shops and work go on
    assert not QUIET.is_quiet(at("2026-04-22 12:00"))
    assert yom_tov(date(2026, 12, 9)) is None


def test_a_holiday_eve_is_quiet_from_candle_lighting_to_the_holidays_nightfall() -> None:
    assert not QUIET.is_quiet(at("2026-09-20 17:50"))  # Yom Kippur eve: sunset 18:41
    held = QUIET.hold(at("2026-09-20 18:30"))
    assert held is not None and held.reason.label() == "Yom Kippur"
    assert held.reason.label("he") == "יום כיפור"
    assert held.until == nightfall(date(2026, 9, 21))
    pesach = QUIET.hold(at("2027-04-21 19:00"))
    assert pesach is not None and pesach.reason.name_en == "Pesach"
    assert pesach.until == nightfall(date(2027, 4, 22))


def test_two_days_in_a_row_make_one_span_rosh_hashana_2027_on_shabbat_and_sunday() -> None:
    held = QUIET.hold(at("2027-10-01 18:30"))  # Friday, the eve: candles about 17:50
    assert held is not None and held.reason.name_en == "Rosh Hashanah"
    assert held.until == nightfall(date(2027, 10, 3))  # Sunday night, not Saturday's


def test_shavuot_2026_on_friday_runs_into_shabbat() -> None:
    held = QUIET.hold(at("2026-05-21 20:00"))
    assert held is not None and held.reason.name_en == "Shavuot"
    assert held.until == nightfall(date(2026, 5, 23))


def test_each_part_can_be_switched_off() -> None:
    friday_night = at("2026-12-11 22:00")
    assert QuietHours(shabbat=False).reason(friday_night).kind == "night"  # type: ignore[union-attr]
    assert QuietHours(shabbat=False, nights=False).hold(friday_night) is None
    assert QuietHours(nights=False).hold(at("2026-12-08 23:00")) is None
    eve = at("2026-09-20 18:30")  # a Sunday evening: Yom Kippur's eve
    assert QuietHours(holidays=False).hold(eve) is None
    assert not QuietHours(nights=False, shabbat=False, holidays=False).enabled


def test_the_settings_choose_the_hours_and_the_parts() -> None:
    settings = Settings(
        OVENAI_QUIET_NIGHTS=True,  # the tests' environment turns them off (tests/conftest.py)
        OVENAI_QUIET_HOLIDAYS=True,
        OVENAI_QUIET_NIGHT_HOURS="22:30-07:00",
        OVENAI_QUIET_SHABBAT=False,
        OVENAI_QUIET_CANDLE_LIGHTING_MINUTES=18,
        OVENAI_QUIET_SPREAD_MINUTES=0,
    )
    quiet = QuietHours.from_settings(settings)
    assert not quiet.is_quiet(at("2026-12-08 22:00"))
    assert quiet.next_allowed(at("2026-12-08 22:30")) == at("2026-12-09 07:00")
    assert not quiet.is_quiet(at("2026-12-12 12:00"))  # Shabbat off
    eve = sunset(date(2026, 9, 20))
    assert not quiet.is_quiet(eve - timedelta(minutes=19))
    assert quiet.is_quiet(eve - timedelta(minutes=18))
    assert quiet.offset("any-id") == timedelta(0)


def test_held_messages_are_spread_over_the_window_and_explained_back() -> None:
    saturday = at("2026-12-12 12:00")
    ends = nightfall(date(2026, 12, 12))
    releases = [QUIET.release_at(f"message-{n}", saturday) for n in range(300)]
    times = [release.until for release in releases if release is not None]
    assert len(times) == 300
    assert all(ends <= t < ends + timedelta(minutes=10) for t in times)
    per_second: dict[datetime, int] = {}
    for t in times:
        per_second[t] = per_second.get(t, 0) + 1
    assert max(per_second.values()) <= 5  # not a burst in the first second
    assert max(times) - min(times) > timedelta(minutes=8)
    explained = QUIET.explain("message-7", times[7])
    assert explained is not None and explained.reason.kind == "shabbat"
    assert explained.until == times[7]
    assert QUIET.explain("message-7", times[7] + timedelta(seconds=30)) is None  # other cause


def test_a_moment_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        QUIET.is_quiet(datetime(2026, 12, 12, 12, 0))


def test_a_spread_that_would_run_into_the_night_waits_for_the_morning() -> None:
    wide = QuietHours(spread_s=2 * 3600)  # 2 hours after 20:30 would be past 21:00
    friday = at("2027-06-25 20:00")
    releases = {n: wide.release_at(f"m{n}", friday) for n in range(40)}
    ends = nightfall(date(2027, 6, 26))
    for n, release in releases.items():
        assert release is not None and not wide.is_quiet(release.until)
        if release.until > ends + timedelta(hours=1):  # pushed past the night
            assert release.until >= at("2027-06-27 08:00") and release.reason.kind == "night"
            assert wide.explain(f"m{n}", release.until) is not None
    assert any(r.until >= at("2027-06-27 08:00") for r in releases.values() if r)
