"""How long Meta's Graph API takes to answer: stored by every process that calls it, read by
the key figures and the slow-response alert.

The Cloud API transport notes each call's duration in memory
(:mod:`ovenai.cloudapi.timings`); :func:`keep_storing`, run by every worker and every
``serve`` (template management calls Meta from there), adds them every :data:`STORE_EVERY_S`
seconds to ``graph_call_times``: one row per (span, start, endpoint kind, log-spaced bucket
of :mod:`ovenai.duration_buckets`), with the calls, the failed ones, the sum, the smallest
and the largest duration. Each call counts in its minute (read by the alert, kept
:data:`MINUTES_KEPT`) and in its hour (read by the key figures; kept: a few hundred rows a
day, no personal data). Rows are added to (``ON CONFLICT … DO UPDATE``), so several processes share
them. A percentile read from the buckets is within 1 % of the exact one; the count, mean
and slowest are exact.

What a process held and had not stored when it died (at most :data:`STORE_EVERY_S`
seconds of calls) is lost: these are monitoring figures, not messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects, duration_buckets
from ovenai.cloudapi import timings
from ovenai.db import Database
from ovenai.errors import ServiceUnavailable
from ovenai.models import GraphCallTime

log = logging.getLogger("ovenai.graph_times")

STORE_EVERY_S = 5.0
MINUTE = 60
HOUR = 3600
SPANS = (MINUTE, HOUR)
MINUTES_KEPT = timedelta(days=2)  # the alert reads minutes; the key figures read hours

Key = tuple[int, datetime, str, int]  # span, start, endpoint kind, bucket


def rows_of(calls: Iterable[timings.Call]) -> list[dict[str, Any]]:
    """The calls summed into one row per (span, start, endpoint kind, bucket)."""
    found: dict[Key, dict[str, Any]] = {}
    for call in calls:
        bucket = duration_buckets.bucket_of(call.seconds)
        for span in SPANS:
            start = datetime.fromtimestamp(call.at - call.at % span, UTC)
            key = (span, start, call.endpoint, bucket)
            row = found.get(key)
            if row is None:
                found[key] = {
                    "span_s": span,
                    "started_at": start,
                    "endpoint": call.endpoint,
                    "bucket": bucket,
                    "calls": 1,
                    "failed": int(call.failed),
                    "total": call.seconds,
                    "least": call.seconds,
                    "most": call.seconds,
                }
            else:
                row["calls"] += 1
                row["failed"] += int(call.failed)
                row["total"] += call.seconds
                row["least"] = min(row["least"], call.seconds)
                row["most"] = max(row["most"], call.seconds)
    return list(found.values())


async def add(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Add the rows to what is stored (a row of the same key sums with them)."""
    if not rows:
        return
    statement = dialects.insert(session, GraphCallTime)
    table = GraphCallTime.__table__.c
    new = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["span_s", "started_at", "endpoint", "bucket"],
            set_={
                "calls": table.calls + new.calls,
                "failed": table.failed + new.failed,
                "total": table.total + new.total,
                "least": func.min(table.least, new.least)
                if not dialects.is_postgresql(session)
                else func.least(table.least, new.least),
                "most": func.max(table.most, new.most)
                if not dialects.is_postgresql(session)
                else func.greatest(table.most, new.most),
            },
        ),
        rows,
    )


async def store(db: Database) -> int:
    """Store the calls held in memory; returns how many. Calls that could not be stored
    (the database is away) are held again for the next time."""
    calls = timings.take()
    if not calls:
        return 0
    try:
        async with db.session() as session:
            await add(session, rows_of(calls))
            await session.commit()
    except (SQLAlchemyError, ServiceUnavailable, OSError):
        timings.give_back(calls)
        raise
    return len(calls)


async def keep_storing(db: Database, stop: asyncio.Event) -> None:
    """Store the held calls every :data:`STORE_EVERY_S` seconds until ``stop``, then once
    more. A failed store is logged and tried again at the next turn."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), STORE_EVERY_S)
        try:
            await store(db)
        except (SQLAlchemyError, ServiceUnavailable, OSError) as exc:
            log.warning("Graph API call times not stored (held for the next turn): %r", exc)
        if stop.is_set():
            return


async def prune(session: AsyncSession, now: datetime) -> int:
    """Drop the minutes older than :data:`MINUTES_KEPT`; returns how many rows went."""
    result = await session.execute(
        delete(GraphCallTime).where(
            GraphCallTime.span_s == MINUTE, GraphCallTime.started_at < now - MINUTES_KEPT
        )
    )
    return dialects.rowcount(result)


async def summary(
    session: AsyncSession, start: datetime, end: datetime, *, span: int = HOUR
) -> tuple[duration_buckets.Summary | None, int]:
    """The calls of the spans that start in [start, end): their summary (None: no call) and
    how many failed. Hours for a period's figures; minutes for the last few minutes."""
    g = GraphCallTime
    query = (
        select(
            g.bucket,
            func.sum(g.calls),
            func.sum(g.failed),
            func.sum(g.total),
            func.min(g.least),
            func.max(g.most),
        )
        .where(g.span_s == span, g.started_at >= start, g.started_at < end)
        .group_by(g.bucket)
    )
    rows = (await session.execute(query)).all()
    buckets = [
        duration_buckets.Bucket(int(b), int(n), float(total), float(least), float(most))
        for b, n, _failed, total, least, most in rows
    ]
    return duration_buckets.summarise(buckets), sum(int(row[2]) for row in rows)
