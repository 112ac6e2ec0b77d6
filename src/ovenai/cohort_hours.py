"""The outbound cohort counted by hour, kept for the key figures (ovenai.kpis).

A period's cohort (docs/architecture.md "Key figures": our messages whose first outcome,
``sent_at`` or else ``failed_at``, falls in it) is counted by (status, template, error
code). Counting it from the messages was a scan of every outbound message of the period
(168-215 ms for 30 days at a million messages). It is kept by hour instead
(``cohort_hours``: one row per hour and group), and a period reads:

* its whole hours from the kept rows (30 days: some 30,000 rows, summed in SQL);
* live, from the messages: the partial hours at its edges, and the hours *touched* since
  the job's last run (less ``GRACE``), so a report is exact at once, not a minute later.

An hour is touched when one of its messages was written or changed: a status moves a
message between outcomes, a send or a failure gives it its hour, a "sent" status restamps
``sent_at`` with Meta's time (possibly another hour). Found by:

* outbound messages written since (``updated_at``: every write of an outbound message sets
  it, the outbox's and the statuses' too; ``ix_messages_out_updated``), or inserted since
  (their id, made when the row is written: a message may be inserted with an older
  ``updated_at``): the hours of their ``sent_at`` and ``failed_at``;
* for a "sent" status arrived since (``status_events``), every hour from its message's
  creation to its last write: the hour it was counted in before the restamp lies there
  (our acceptance time, after the message was made and before the status was applied);
* hours retention deleted messages from (``cohort_hours_stale``, ``mark_stale``).

The worker's ``kpis.cohort`` job (every minute) counts the touched hours again and records
when it started (a ``cohort`` row of ``response_turns_progress``); its first run counts
every hour. Until then, every period is counted live. ``GRACE`` covers a transaction that
writes and commits later, as for the kept turns (ovenai.response_turns).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects
from ovenai.columns import UTCDateTime, utcnow
from ovenai.db import Database
from ovenai.models import (
    CohortHour,
    CohortHoursStale,
    Direction,
    Message,
    ResponseTurnsProgress,
    StatusEvent,
)
from ovenai.response_turns import first_id_at

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=10)
EVERY_S = 60.0
LEASE_S = 600.0
PROGRESS = "cohort"  # its row of response_turns_progress
HOUR = timedelta(hours=1)
BATCH_HOURS = 24 * 7  # hours counted again per transaction

Group = tuple[str, str, int | None]  # (status, template name or "", error code)


def hour_of(at: datetime) -> datetime:
    """The start of the UTC hour ``at`` falls in."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(at: datetime) -> datetime:
    """The start of the first UTC hour that begins at ``at`` or later."""
    start = hour_of(at)
    return start if start == at else start + HOUR


def hour_ranges(hours: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Hours as the fewest [start, end) ranges."""
    merged: list[tuple[datetime, datetime]] = []
    for hour in sorted(set(hours)):
        if merged and merged[-1][1] == hour:
            merged[-1] = (merged[-1][0], hour + HOUR)
        else:
            merged.append((hour, hour + HOUR))
    return merged


def within(column: Any, ranges: list[tuple[datetime, datetime]]) -> ColumnElement[bool]:
    """``column`` in any of these [start, end) ranges."""
    return or_(*(and_(column >= start, column < end) for start, end in ranges))


def hour_in_sql(session: AsyncSession, column: Any) -> Any:
    """The UTC hour of a time column, in SQL, read back as a UTC datetime (literals, not
    parameters: PostgreSQL must see the grouped expression and the selected one alike)."""
    if dialects.is_postgresql(session):
        hour: Any = func.date_trunc(literal_column("'hour'"), column, literal_column("'UTC'"))
    else:  # SQLite keeps UTC times as text, "YYYY-MM-DD HH:MM:SS[.ffffff]"
        prefix = func.substr(column, literal_column("1"), literal_column("13"))
        hour = prefix.op("||")(literal_column("':00:00.000000'"))
    return type_coerce(hour, UTCDateTime)


async def live(
    session: AsyncSession, ranges: list[tuple[datetime, datetime]], *, by_hour: bool = False
) -> Counter[tuple[datetime | None, str, str, int | None]]:
    """The cohort of these time ranges counted from the messages, by (hour or None,
    status, template name or "", error code)."""
    counts: Counter[tuple[datetime | None, str, str, int | None]] = Counter()
    if not ranges:
        return counts
    out = Message.direction == Direction.OUTBOUND
    groups = (Message.status, Message.template_name, Message.error_code)
    accepted = (Message.sent_at, and_(out, within(Message.sent_at, ranges)))
    never = (
        Message.failed_at,
        and_(out, Message.sent_at.is_(None), within(Message.failed_at, ranges)),
    )
    for at, condition in (accepted, never):
        keys = (hour_in_sql(session, at), *groups) if by_hour else groups
        query = select(*keys, func.count()).where(condition).group_by(*keys)
        for row in await session.execute(query):
            *key, count = row
            hour = key.pop(0) if by_hour else None
            status, template, code = key
            counts[(hour, status, template or "", code)] += int(count)
    return counts


async def _touched_hours(session: AsyncSession, since: datetime) -> set[datetime]:
    """The hours whose cohort may have changed since ``since`` (the module's docstring)."""
    out = Message.direction == Direction.OUTBOUND
    hours: set[datetime] = set()
    # Distinct hours from SQL: during a campaign, ten minutes are 100,000s of writes.
    columns = (hour_in_sql(session, Message.sent_at), hour_in_sql(session, Message.failed_at))
    for query in (
        select(*columns).where(out, Message.updated_at >= since).distinct(),
        select(*columns).where(out, Message.id >= first_id_at(since)).distinct(),
    ):
        for sent_hour, failed_hour in await session.execute(query):
            hours.update(hour_of(at) for at in (sent_hour, failed_hour) if at is not None)
    restamped = (
        select(Message.created_at, Message.sent_at, Message.updated_at)
        .join(StatusEvent, StatusEvent.wa_message_id == Message.wa_message_id)
        .where(
            StatusEvent.applied.in_((False, True)),  # the (applied, received_at) index
            StatusEvent.received_at >= since,
            StatusEvent.status == "sent",
            out,
        )
    )
    for created_at, sent_at, updated_at in await session.execute(restamped):
        hour = hour_of(min(created_at, sent_at or created_at))
        last = hour_of(max(updated_at, sent_at or updated_at))
        while hour <= last:
            hours.add(hour)
            hour += HOUR
    hours.update(hour_of(at) for at in await session.scalars(select(CohortHoursStale.hour)))
    return hours


@dataclass(frozen=True)
class Kept:
    """What a report may take from the kept hours: none before the job's first run
    (``touched`` None), else every hour but those touched since its last run."""

    touched: frozenset[datetime] | None


async def kept(session: AsyncSession) -> Kept:
    """The kept hours' state now (one report or chart reads several periods with it)."""
    progress = await session.get(ResponseTurnsProgress, PROGRESS)
    if progress is None:
        return Kept(None)
    return Kept(frozenset(await _touched_hours(session, progress.done_until - GRACE)))


async def counts(
    session: AsyncSession, start: datetime, end: datetime, state: Kept
) -> Counter[Group]:
    """The cohort of the period by (status, template name or "", error code): its whole
    untouched hours from the kept counts, the rest from the messages."""
    first, last = ceil_hour(start), hour_of(end)
    found: Counter[Group] = Counter()
    if state.touched is None or first >= last:
        for (_hour, status, template, code), count in (await live(session, [(start, end)])).items():
            found[(status, template, code)] += count
        return found
    touched = sorted(hour for hour in state.touched if first <= hour < last)
    read_live = [(start, first), *hour_ranges(touched), (last, end)]
    for (_hour, status, template, code), count in (
        await live(session, [(a, b) for a, b in read_live if a < b])
    ).items():
        found[(status, template, code)] += count
    query = (
        select(
            CohortHour.status,
            CohortHour.template_name,
            CohortHour.error_code,
            func.sum(CohortHour.count),
        )
        .where(CohortHour.hour >= first, CohortHour.hour < last)
        .group_by(CohortHour.status, CohortHour.template_name, CohortHour.error_code)
    )
    if touched:
        query = query.where(CohortHour.hour.not_in(touched))
    for status, template, code, count in await session.execute(query):
        found[(status, template, code)] += int(count)
    return found


async def _recount(session: AsyncSession, ranges: list[tuple[datetime, datetime]]) -> None:
    """Count these hours again from their messages."""
    await session.execute(delete(CohortHour).where(within(CohortHour.hour, ranges)))
    rows = [
        {
            "hour": hour,
            "status": status,
            "template_name": template,
            "error_code": code,
            "count": count,
        }
        for (hour, status, template, code), count in (
            await live(session, ranges, by_hour=True)
        ).items()
    ]
    if rows:
        await session.execute(insert(CohortHour), rows)


async def refresh(db: Database) -> int:
    """Count again the hours touched since the last run (every hour on the first run); how
    many hours were counted. Each batch of hours is one transaction; a failed run leaves
    the progress where it was, so the next counts them."""
    started = utcnow()
    async with db.session() as session:
        progress = await session.get(ResponseTurnsProgress, PROGRESS)
        stale_seen = set(await session.scalars(select(CohortHoursStale.hour)))
        first_run = progress is None
        if first_run:  # every hour with an outcome
            outcome = func.coalesce(Message.sent_at, Message.failed_at)
            earliest, latest = (
                await session.execute(
                    select(func.min(outcome), func.max(outcome)).where(
                        Message.direction == Direction.OUTBOUND
                    )
                )
            ).one()
            hours: list[datetime] = []
            if earliest is not None and latest is not None:
                hour = hour_of(earliest)
                while hour <= hour_of(latest):
                    hours.append(hour)
                    hour += HOUR
        else:
            assert progress is not None
            hours = sorted(await _touched_hours(session, progress.done_until - GRACE))
    if first_run:
        async with db.session() as session:
            await session.execute(delete(CohortHour))
            await session.commit()
    for offset in range(0, len(hours), BATCH_HOURS):
        async with db.session() as session:
            await _recount(session, hour_ranges(hours[offset : offset + BATCH_HOURS]))
            await session.commit()
    async with db.session() as session:
        if stale_seen:
            await session.execute(
                delete(CohortHoursStale).where(
                    CohortHoursStale.hour.in_(sorted(stale_seen)),
                    CohortHoursStale.marked_at <= started,
                )
            )
        upsert = dialects.insert(session, ResponseTurnsProgress).values(
            name=PROGRESS, done_until=started
        )
        await session.execute(
            upsert.on_conflict_do_update(index_elements=["name"], set_={"done_until": started})
        )
        await session.commit()
    if hours:
        log.info("counted the outbound cohort of %d hours again", len(hours))
    return len(hours)


async def mark_stale(session: AsyncSession, times: Iterable[datetime | None]) -> None:
    """The hours of these outcome times must be counted again (their messages go)."""
    now = utcnow()
    for hour in sorted({hour_of(at) for at in times if at is not None}):
        upsert = dialects.insert(session, CohortHoursStale).values(hour=hour, marked_at=now)
        await session.execute(
            upsert.on_conflict_do_update(index_elements=["hour"], set_={"marked_at": now})
        )
