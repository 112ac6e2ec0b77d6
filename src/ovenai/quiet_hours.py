"""Quiet times: when marketing messages wait in the outbox (utility messages never wait).

Three kinds, each switched by its own setting (docs/configuration.md), all in Israel's
time (Asia/Jerusalem):

* **nights**: ``OVENAI_QUIET_NIGHT_HOURS``, 21:00-08:00 by default;
* **Shabbat**: from candle lighting on Friday to nightfall on Saturday;
* **holidays**: each Yom Tov day (Rosh Hashana, Yom Kippur, Sukkot I, Shemini Atzeret /
  Simchat Torah, Pesach I and VII, Shavuot) from candle lighting on its eve to its
  nightfall; two days in a row (or a holiday beside Shabbat) make one quiet span.

The holiday dates come from the ``holidays`` package (Israel's public holidays, less
Independence Day, which is no Yom Tov: :data:`NOT_QUIET`); sunset and nightfall from
``hdate`` for **Jerusalem** (31.778 N, 35.235 E). Candle lighting is
``OVENAI_QUIET_CANDLE_LIGHTING_MINUTES`` before sunset, 40 by default: Jerusalem's custom,
the earliest start anywhere in the country (elsewhere 18-30 minutes), so no lead's Shabbat
has begun before marketing stops. Nightfall is *tzeit hakochavim* as Shabbat's end is
published (the sun 8.5 degrees below the horizon, about 35-40 minutes after sunset).
Published Jerusalem times agree to within about two minutes (tests/test_quiet_hours.py).

:meth:`QuietHours.hold` says whether a moment is quiet, why, and until when; the outbox
(:mod:`ovenai.outbox.queue` when queueing, :mod:`ovenai.outbox.admission` again when a
message is claimed) makes a marketing message wait until :meth:`QuietHours.release_at`:
the end of the quiet time plus a fixed offset of up to ``OVENAI_QUIET_SPREAD_MINUTES``
taken from the message's id, so that what waited over a night or a Shabbat becomes due
over a span of minutes rather than all in its first second.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
from hdate import Location, Zmanim

from ovenai.errors import ConfigurationError
from ovenai.settings import Settings

ISRAEL = ZoneInfo("Asia/Jerusalem")
JERUSALEM = Location(name="Jerusalem", latitude=31.778, longitude=35.235, timezone=ISRAEL)
# Israel's public holidays that are no Yom Tov (work and shops go on): not quiet.
NOT_QUIET = frozenset({"Independence Day"})
# A quiet span never lasts longer than this (three days of holiday and Shabbat in a row plus
# a night); next_allowed gives up past it so a misconfiguration cannot loop for ever.
LONGEST_QUIET = timedelta(days=5)

Kind = Literal["night", "shabbat", "holiday", "campaign_paused"]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a moment is quiet: the kind (night, shabbat, holiday) and its name in English
    and Hebrew ("Shabbat" / "שבת", "Rosh Hashanah" / "ראש השנה", "night" / "לילה")."""

    kind: Kind
    name_en: str
    name_he: str

    def label(self, language: str = "en") -> str:
        """The name in ``language`` (Hebrew for "he", else English)."""
        return self.name_he if language == "he" else self.name_en


SHABBAT = Reason("shabbat", "Shabbat", "שבת")
NIGHT = Reason("night", "night", "לילה")
CAMPAIGN_PAUSED = Reason("campaign_paused", "its campaign is paused", "הקמפיין שלה מושהה")
HELD_INDEFINITELY = datetime(9000, 1, 1, tzinfo=UTC)
"""When a message held without an end is due (a paused campaign's, ovenai.campaigns): it
leaves when it is given a real time again."""


@dataclass(frozen=True, slots=True)
class Hold:
    """A quiet moment's reason and when marketing may go again."""

    until: datetime
    reason: Reason


@dataclass(frozen=True, slots=True)
class _Span:
    start: datetime
    end: datetime
    reason: Reason


@dataclass(frozen=True)
class QuietHours:
    """Which quiet times apply and their hours (see the module's docstring)."""

    nights: bool = True
    night_start: time = time(21, 0)
    night_end: time = time(8, 0)
    shabbat: bool = True
    holidays: bool = True
    candle_lighting_minutes: int = 40
    spread_s: int = 600

    @classmethod
    def from_settings(cls, settings: Settings) -> QuietHours:
        """The quiet times the settings describe."""
        return _from_values(
            settings.quiet_nights,
            settings.quiet_night_hours,
            settings.quiet_shabbat,
            settings.quiet_holidays,
            settings.quiet_candle_lighting_minutes,
            settings.quiet_spread_minutes,
        )

    @property
    def enabled(self) -> bool:
        """Whether any quiet time applies at all."""
        return self.nights or self.shabbat or self.holidays

    # -- questions ----------------------------------------------------------------------------

    def is_quiet(self, at: datetime) -> bool:
        """Whether marketing must wait at ``at`` (an aware datetime)."""
        return self._span_at(at) is not None

    def reason(self, at: datetime) -> Reason | None:
        """Why ``at`` is quiet (Shabbat or a holiday before night), None when it is not."""
        span = self._span_at(at)
        return span.reason if span else None

    def next_allowed(self, at: datetime) -> datetime:
        """The first moment at or after ``at`` that is not quiet (``at`` itself if allowed)."""
        moment = at.astimezone(UTC)
        limit = moment + LONGEST_QUIET
        while (span := self._span_at(moment)) is not None:
            moment = span.end.astimezone(UTC)
            if moment > limit:
                raise ConfigurationError("quiet times leave no moment to send in five days")
        return moment

    def hold(self, at: datetime) -> Hold | None:
        """Why ``at`` is quiet and until when; None when marketing may go at ``at``."""
        span = self._span_at(at)
        if span is None:
            return None
        return Hold(self.next_allowed(span.end), span.reason)

    # -- the outbox's use ----------------------------------------------------------------------

    def offset(self, message_id: str) -> timedelta:
        """A message's fixed place in the spread window (whole seconds, from its id)."""
        if self.spread_s <= 0:
            return timedelta(0)
        digest = hashlib.blake2b(message_id.encode(), digest_size=8).digest()
        return timedelta(seconds=int.from_bytes(digest, "big") % self.spread_s)

    def release_at(self, message_id: str, at: datetime) -> Hold | None:
        """When a marketing message due at ``at`` may leave: None if at once, else the end of
        the quiet time plus the message's offset in the spread window, and the reason."""
        held = self.hold(at)
        if held is None:
            return None
        leaves = held.until + self.offset(message_id)
        if self.is_quiet(leaves):  # the spread ran into the next quiet time (a short evening)
            return self.release_at(message_id, leaves)
        return Hold(leaves, held.reason)

    def explain(self, message_id: str, not_before: datetime) -> Hold | None:
        """Why a queued marketing message is due at ``not_before``, if quiet time made it
        wait (the inverse of :meth:`release_at`); None when its wait had another cause."""
        end = not_before - self.offset(message_id)
        before = self.hold(end - timedelta(seconds=1))
        if before is None or abs(before.until - end) > timedelta(seconds=1):
            return None
        return Hold(not_before, before.reason)

    # -- spans ---------------------------------------------------------------------------------

    def _span_at(self, at: datetime) -> _Span | None:
        """The quiet span holding ``at``: Shabbat or a holiday first, else the night."""
        if at.tzinfo is None:
            raise ValueError("quiet times need an aware datetime")
        moment = at.astimezone(ISRAEL)
        day = moment.date()
        for sacred in (day, day + timedelta(days=1)):
            reason = self._sacred(sacred)
            if reason is None:
                continue
            start = sunset(sacred - timedelta(days=1)) - timedelta(
                minutes=self.candle_lighting_minutes
            )
            end = nightfall(sacred)
            if start <= moment < end:
                return _Span(start, end, reason)
        return self._night(moment)

    def _sacred(self, day: date) -> Reason | None:
        """Whether ``day`` (the daytime of it) is a Yom Tov or Shabbat that applies."""
        if self.holidays:
            names = yom_tov(day)
            if names is not None:
                return Reason("holiday", *names)
        if self.shabbat and day.weekday() == 5:
            return SHABBAT
        return None

    def _night(self, moment: datetime) -> _Span | None:
        if not self.nights or self.night_start == self.night_end:
            return None
        clock, day = moment.time(), moment.date()
        start = datetime.combine(day, self.night_start, tzinfo=ISRAEL)
        end = datetime.combine(day, self.night_end, tzinfo=ISRAEL)
        night = NIGHT
        if self.night_start > self.night_end:  # across midnight (21:00-08:00)
            if clock >= self.night_start:
                return _Span(start, end + timedelta(days=1), night)
            if clock < self.night_end:
                return _Span(start - timedelta(days=1), end, night)
            return None
        if self.night_start <= clock < self.night_end:  # within one day (00:00-06:00)
            return _Span(start, end, night)
        return None


@functools.lru_cache(maxsize=64)
def _from_values(
    nights: bool, hours: str, shabbat: bool, holy: bool, candles: int, spread_minutes: int
) -> QuietHours:
    start, end = (time.fromisoformat(part.strip()) for part in hours.split("-"))
    return QuietHours(
        nights=nights,
        night_start=start,
        night_end=end,
        shabbat=shabbat,
        holidays=holy,
        candle_lighting_minutes=candles,
        spread_s=spread_minutes * 60,
    )


OFF = QuietHours(nights=False, shabbat=False, holidays=False)
"""No quiet time at all (tests, and callers that leave the decision to the worker)."""


@functools.lru_cache(maxsize=16)
def _holidays_of(year: int) -> tuple[dict[date, str], dict[date, str]]:
    english = holidays.country_holidays("IL", years=year, language="en_US")
    hebrew = holidays.country_holidays("IL", years=year, language="he")
    quiet = {day: name for day, name in english.items() if name not in NOT_QUIET}
    return quiet, {day: hebrew.get(day, name) for day, name in quiet.items()}


def yom_tov(day: date) -> tuple[str, str] | None:
    """The Yom Tov falling on ``day`` (its daytime), as (English name, Hebrew name)."""
    english, hebrew = _holidays_of(day.year)
    name = english.get(day)
    return None if name is None else (name, hebrew[day])


@functools.lru_cache(maxsize=1024)
def sunset(day: date) -> datetime:
    """Sunset in Jerusalem on ``day`` (aware, Israel's time)."""
    return Zmanim(date=day, location=JERUSALEM).shkia.local


@functools.lru_cache(maxsize=1024)
def nightfall(day: date) -> datetime:
    """Nightfall in Jerusalem on ``day`` (tzeit hakochavim, the sun 8.5 degrees down)."""
    return Zmanim(date=day, location=JERUSALEM).tset_hakohavim_shabbat.local
