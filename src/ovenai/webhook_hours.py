"""Webhook processing times bucketed by hour, kept for the key figures (ovenai.kpis).

A period's webhook processing (docs/architecture.md "Key figures": from a body's arrival
to its being applied, of the bodies received in the period) is summarised from log-spaced
buckets (ovenai.duration_buckets). Bucketing every body of the period was still a scan of
them (333,000 for 30 days at a million messages: 350-630 ms at load 4). The buckets are
kept by the UTC hour of arrival instead (``webhook_hours``: one row per hour and bucket,
with the count, sum, smallest and largest duration), and a period reads its whole hours
from them and, live from the bodies, the partial hours at its edges and the hours
*touched* since the job's last run (less ``GRACE``):

* bodies applied since (``processed_at``, our clock; ``ix_webhook_events_processed``) or
  written since (their id, made when the row is written): the hours they arrived in;
* hours retention deleted bodies from (``webhook_hours_stale``, ``mark_stale``).

Nothing else a kept row depends on changes: a body's arrival never does, and it is
applied again only with a new ``processed_at``. The worker's ``kpis.webhooks`` job (every
minute) counts the touched hours again and records when it started (a ``webhooks`` row of
``response_turns_progress``); its first run counts every hour, and until then periods
are read live. What the two hourly figures share (the job's run, ``GRACE``, the hours'
arithmetic) is :mod:`ovenai.kept_hours`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Float, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects, duration_buckets, kept_hours
from ovenai.db import Database
from ovenai.duration_buckets import Bucket
from ovenai.kept_hours import Kept, ceil_hour, hour_in_sql, hour_of, hour_ranges, within
from ovenai.models import WebhookHour, WebhookHoursStale
from ovenai.models.webhooks import WebhookEvent
from ovenai.response_turns import first_id_at

EVERY_S = kept_hours.EVERY_S
LEASE_S = kept_hours.LEASE_S
PROGRESS = "webhooks"  # its row of response_turns_progress


def _merge(into: dict[Any, Bucket], key: Any, bucket: Bucket) -> None:
    seen = into.get(key)
    into[key] = (
        bucket
        if seen is None
        else Bucket(
            bucket.index,
            seen.count + bucket.count,
            seen.total + bucket.total,
            min(seen.least, bucket.least),
            max(seen.most, bucket.most),
        )
    )


async def live(
    session: AsyncSession, ranges: list[tuple[datetime, datetime]], *, by_hour: bool = False
) -> dict[tuple[datetime | None, int], Bucket]:
    """The processing times of the bodies received in these ranges, bucketed from the
    bodies, by (hour or None, bucket)."""
    found: dict[tuple[datetime | None, int], Bucket] = {}
    if not ranges:
        return found
    arrived = (within(WebhookEvent.received_at, ranges), WebhookEvent.processed_at.is_not(None))
    if not dialects.is_postgresql(session):  # no ``ln`` in every SQLite: bucketed here
        took = (
            func.julianday(WebhookEvent.processed_at) - func.julianday(WebhookEvent.received_at)
        ) * 86400.0
        query = select(WebhookEvent.received_at, took).where(*arrived)
        for received_at, seconds in await session.execute(query):
            value = max(0.0, float(seconds))
            index = duration_buckets.bucket_of(value)
            key = (hour_of(received_at) if by_hour else None, index)
            _merge(found, key, Bucket(index, 1, value, value, value))
        return found
    # ``date_part`` is double precision; ``extract`` would be numeric (slower to bucket).
    seconds = func.date_part(
        "epoch", WebhookEvent.processed_at - WebhookEvent.received_at, type_=Float
    )
    durations = select(
        hour_in_sql(session, WebhookEvent.received_at).label("hour"),
        func.greatest(seconds, 0.0).label("took"),
    ).where(*arrived)
    rows = durations.subquery()
    bucketed = select(
        rows.c.hour, duration_buckets.bucket_in_sql(rows.c.took).label("bucket"), rows.c.took
    ).subquery()
    keys = (bucketed.c.hour, bucketed.c.bucket) if by_hour else (bucketed.c.bucket,)
    query = select(
        *keys,
        func.count(),
        func.sum(bucketed.c.took),
        func.min(bucketed.c.took),
        func.max(bucketed.c.took),
    ).group_by(*keys)
    for row in await session.execute(query):
        hour: datetime | None = row[0] if by_hour else None
        index, count, total, least, most = row[1:] if by_hour else row
        bucket = Bucket(int(index), int(count), float(total), float(least), float(most))
        _merge(found, (hour, int(index)), bucket)
    return found


async def _touched_hours(session: AsyncSession, since: datetime) -> set[datetime]:
    """The hours whose bodies may have been applied or written since ``since``."""
    hours: set[datetime] = set()
    arrived = hour_in_sql(session, WebhookEvent.received_at)  # distinct hours, from SQL
    for query in (
        select(arrived).where(WebhookEvent.processed_at >= since).distinct(),
        select(arrived).where(WebhookEvent.id >= first_id_at(since)).distinct(),
        select(WebhookHoursStale.hour),
    ):
        hours.update(hour_of(at) for at in await session.scalars(query))
    return hours


async def kept(session: AsyncSession) -> Kept:
    """The kept hours' state now."""
    return await kept_hours.kept(session, KEEPER)


async def buckets(
    session: AsyncSession, start: datetime, end: datetime, state: Kept
) -> list[Bucket]:
    """The period's processing times by bucket: its whole untouched hours from the kept
    rows, the rest from the bodies."""
    first, last = ceil_hour(start), hour_of(end)
    merged: dict[Any, Bucket] = {}
    if state.touched is None or first >= last:
        read_live = [(start, end)]
        touched: list[datetime] = []
    else:
        touched = sorted(hour for hour in state.touched if first <= hour < last)
        read_live = [(start, first), *hour_ranges(touched), (last, end)]
    for (_hour, index), bucket in (
        await live(session, [(a, b) for a, b in read_live if a < b])
    ).items():
        _merge(merged, index, bucket)
    if state.touched is None or first >= last:
        return list(merged.values())
    query = (
        select(
            WebhookHour.bucket,
            func.sum(WebhookHour.count),
            func.sum(WebhookHour.total),
            func.min(WebhookHour.least),
            func.max(WebhookHour.most),
        )
        .where(WebhookHour.hour >= first, WebhookHour.hour < last)
        .group_by(WebhookHour.bucket)
    )
    if touched:
        query = query.where(WebhookHour.hour.not_in(touched))
    for index, count, total, least, most in await session.execute(query):
        bucket = Bucket(int(index), int(count), float(total), float(least), float(most))
        _merge(merged, int(index), bucket)
    return list(merged.values())


async def _recount(session: AsyncSession, ranges: list[tuple[datetime, datetime]]) -> None:
    """Count these hours again from their bodies."""
    await session.execute(delete(WebhookHour).where(within(WebhookHour.hour, ranges)))
    rows = [
        {
            "hour": hour,
            "bucket": index,
            "count": bucket.count,
            "total": bucket.total,
            "least": bucket.least,
            "most": bucket.most,
        }
        for (hour, index), bucket in (await live(session, ranges, by_hour=True)).items()
    ]
    if rows:
        await session.execute(insert(WebhookHour), rows)


async def _span(session: AsyncSession) -> tuple[datetime | None, datetime | None]:
    """The first and last arrival of a body (the first run's hours)."""
    query = select(func.min(WebhookEvent.received_at), func.max(WebhookEvent.received_at))
    earliest, latest = (await session.execute(query)).one()
    return earliest, latest


KEEPER = kept_hours.Keeper(
    progress=PROGRESS,
    kept_table=WebhookHour,
    stale_table=WebhookHoursStale,
    span=_span,
    touched=_touched_hours,
    recount=_recount,
    what="webhook processing times",
)


async def refresh(db: Database) -> int:
    """The ``kpis.webhooks`` job: the touched hours counted again (:mod:`ovenai.kept_hours`)."""
    return await kept_hours.refresh(db, KEEPER)


async def mark_stale(session: AsyncSession, times: Iterable[datetime]) -> None:
    """The hours of these arrival times must be counted again (their bodies go)."""
    await kept_hours.mark_stale(session, KEEPER, times)
