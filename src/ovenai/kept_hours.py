"""Key figures kept by the UTC hour and counted again by a worker job (ovenai.kpis).

Two figures are kept this way: the outbound cohort (:mod:`ovenai.cohort_hours`) and the
webhook processing times (:mod:`ovenai.webhook_hours`). Each names, in a :class:`Keeper`,
its table of kept rows, its table of hours retention made stale, its row of
``response_turns_progress``, and three queries of its own: the span of hours its first run
counts, the hours *touched* since a moment (whose kept rows may be wrong), and how an
hour's rows are counted again. What they share is here: the hours' arithmetic, which
hours a report may take from the kept rows (:func:`kept`), the job's run (:func:`refresh`)
and the marking of hours retention empties (:func:`mark_stale`).

The job records when it started; its next run counts again the hours touched since then,
less ``GRACE`` (a transaction that writes and commits later). Its first run counts every
hour; until then a report counts every period live.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, literal_column, or_, select, type_coerce
from sqlalchemy import func as sql
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects
from ovenai.columns import UTCDateTime, utcnow
from ovenai.db import Database
from ovenai.models import ResponseTurnsProgress

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=10)
EVERY_S = 60.0  # how often the worker's jobs count the touched hours again
LEASE_S = 600.0
HOUR = timedelta(hours=1)
BATCH_HOURS = 24 * 7  # hours counted again per transaction

Ranges = list[tuple[datetime, datetime]]


def hour_of(at: datetime) -> datetime:
    """The start of the UTC hour ``at`` falls in."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(at: datetime) -> datetime:
    """The start of the first UTC hour that begins at ``at`` or later."""
    start = hour_of(at)
    return start if start == at else start + HOUR


def hour_ranges(hours: Iterable[datetime]) -> Ranges:
    """Hours as the fewest [start, end) ranges."""
    merged: Ranges = []
    for hour in sorted(set(hours)):
        if merged and merged[-1][1] == hour:
            merged[-1] = (merged[-1][0], hour + HOUR)
        else:
            merged.append((hour, hour + HOUR))
    return merged


def within(column: Any, ranges: Ranges) -> ColumnElement[bool]:
    """``column`` in any of these [start, end) ranges."""
    return or_(*(and_(column >= start, column < end) for start, end in ranges))


def hour_in_sql(session: AsyncSession, column: Any) -> Any:
    """The UTC hour of a time column, in SQL, read back as a UTC datetime (literals, not
    parameters: PostgreSQL must see the grouped expression and the selected one alike)."""
    if dialects.is_postgresql(session):
        hour: Any = sql.date_trunc(literal_column("'hour'"), column, literal_column("'UTC'"))
    else:  # SQLite keeps UTC times as text, "YYYY-MM-DD HH:MM:SS[.ffffff]"
        prefix = sql.substr(column, literal_column("1"), literal_column("13"))
        hour = prefix.op("||")(literal_column("':00:00.000000'"))
    return type_coerce(hour, UTCDateTime)


@dataclass(frozen=True)
class Kept:
    """What a report may take from the kept hours: none before the job's first run
    (``touched`` None), else every hour but those touched since its last run."""

    touched: frozenset[datetime] | None


@dataclass(frozen=True)
class Keeper:
    """One figure kept by hour: its tables, its progress row and its own queries."""

    progress: str
    """Its row of ``response_turns_progress``."""
    kept_table: Any
    """The model of the kept rows (a ``hour`` column)."""
    stale_table: Any
    """The model of the hours retention emptied (``hour``, ``marked_at``)."""
    span: Callable[[AsyncSession], Awaitable[tuple[datetime | None, datetime | None]]]
    """The first and last moment the first run counts the hours of."""
    touched: Callable[[AsyncSession, datetime], Awaitable[set[datetime]]]
    """The hours touched since a moment (stale hours among them)."""
    recount: Callable[[AsyncSession, Ranges], Awaitable[None]]
    """Count these hours again (their kept rows replaced)."""
    what: str
    """What it keeps, for the log line."""


async def kept(session: AsyncSession, keeper: Keeper) -> Kept:
    """The kept hours' state now (one report or chart reads several periods with it)."""
    progress = await session.get(ResponseTurnsProgress, keeper.progress)
    if progress is None:
        return Kept(None)
    return Kept(frozenset(await keeper.touched(session, progress.done_until - GRACE)))


async def refresh(db: Database, keeper: Keeper) -> int:
    """Count again the hours touched since the last run (every hour on the first run); how
    many hours were counted. Each batch of hours is one transaction; a failed run leaves
    the progress where it was, so the next counts them."""
    started = utcnow()
    async with db.session() as session:
        progress = await session.get(ResponseTurnsProgress, keeper.progress)
        stale_seen = set(await session.scalars(select(keeper.stale_table.hour)))
        first_run = progress is None
        hours: list[datetime] = []
        if progress is None:
            earliest, latest = await keeper.span(session)
            if earliest is not None and latest is not None:
                hour = hour_of(earliest)
                while hour <= hour_of(latest):
                    hours.append(hour)
                    hour += HOUR
        else:
            hours = sorted(await keeper.touched(session, progress.done_until - GRACE))
    if first_run:
        async with db.session() as session:
            await session.execute(delete(keeper.kept_table))
            await session.commit()
    for offset in range(0, len(hours), BATCH_HOURS):
        async with db.session() as session:
            await keeper.recount(session, hour_ranges(hours[offset : offset + BATCH_HOURS]))
            await session.commit()
    async with db.session() as session:
        if stale_seen:
            await session.execute(
                delete(keeper.stale_table).where(
                    keeper.stale_table.hour.in_(sorted(stale_seen)),
                    keeper.stale_table.marked_at <= started,
                )
            )
        upsert = dialects.insert(session, ResponseTurnsProgress).values(
            name=keeper.progress, done_until=started
        )
        await session.execute(
            upsert.on_conflict_do_update(index_elements=["name"], set_={"done_until": started})
        )
        await session.commit()
    if hours:
        log.info("counted the %s of %d hours again", keeper.what, len(hours))
    return len(hours)


async def mark_stale(
    session: AsyncSession, keeper: Keeper, times: Iterable[datetime | None]
) -> None:
    """The hours of these times must be counted again (retention deletes their rows)."""
    now = utcnow()
    for hour in sorted({hour_of(at) for at in times if at is not None}):
        upsert = dialects.insert(session, keeper.stale_table).values(hour=hour, marked_at=now)
        await session.execute(
            upsert.on_conflict_do_update(index_elements=["hour"], set_={"marked_at": now})
        )
