"""Where the shared token buckets live: the interface, and the database store.

Buckets live in the database (:class:`DatabaseBuckets`, ``rate_buckets`` rows locked while
they change) or, when ``REDIS_URL`` is set, in Redis (:mod:`ovenai.outbox.redis_buckets`).
A throttling answer from Meta :meth:`~Buckets.penalize`\\ s the bucket: it is held in debt
for a while and every worker waits, instead of hammering; a burst of refusals holds it once,
not once per refusal.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ovenai import dialects
from ovenai.columns import read_datetimes, stored_datetimes
from ovenai.db import Database
from ovenai.models import RateBucket
from ovenai.outbox.token_bucket import Bucket, Grant, debt_level, refill, take

# A pair bucket untouched this long is full again (the default pair limit refills in
# pair_burst * pair_interval_s = 30 s, from the deepest debt in MAX_DEBT_S + 30 s), and a
# missing row is created full: dropping it changes nothing but the table's size.
PAIR_IDLE = timedelta(hours=1)


class Buckets(Protocol):
    """Where the shared buckets live."""

    async def reserve(self, bucket: Bucket, want: int, horizon: float) -> Grant:
        """Reserve up to ``want`` tokens of one bucket whose slots lie within ``horizon``."""
        ...

    async def reserve_each(self, buckets: Sequence[Bucket], horizon: float) -> list[Grant]:
        """Reserve one token of each bucket (one round trip for a whole batch)."""
        ...

    async def penalize(self, bucket: Bucket, seconds: float) -> None:
        """Hold the bucket ``seconds`` in debt (Meta said: slow down); penalties do not add up."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class DatabaseBuckets:
    """Buckets as ``rate_buckets`` rows, changed under a row lock (SQLite: BEGIN IMMEDIATE).

    One change is two statements whatever the number of buckets, each sent as one multi-row
    batch: an upsert that creates the missing rows and locks and reads them all (``ON
    CONFLICT DO UPDATE`` locks the row it touches, in name order so that two workers never
    wait on each other crosswise), then an upsert of the new levels. Both go to the driver
    as prepared values (PostgreSQL: binary arrays; SQLite: one ``VALUES`` list), past
    SQLAlchemy's per-row parameter handling.
    """

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def _locked(
        self, session: AsyncSession, buckets: dict[str, Bucket]
    ) -> dict[str, tuple[float, float]]:
        """Lock the buckets' rows (creating them full); each one's level and last change."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        rows = [_row(bucket, bucket.capacity) for bucket in buckets.values()]
        connection = await session.connection()
        found = await _upsert(connection, rows, now, _KEEP)
        read = read_datetimes(connection.dialect)
        return {name: (tokens, _timestamp(read(at))) for name, tokens, at in found}

    async def _store(
        self,
        session: AsyncSession,
        buckets: dict[str, Bucket],
        levels: dict[str, float],
        clock: float,
    ) -> None:
        """Store each bucket's level as of ``clock`` (when it was computed)."""
        now = datetime.fromtimestamp(clock, UTC)
        rows = [_row(bucket, levels[name]) for name, bucket in buckets.items() if name in levels]
        await _upsert(await session.connection(), rows, now, _REPLACE)

    async def reserve(self, bucket: Bucket, want: int, horizon: float) -> Grant:
        """Reserve tokens of one bucket in one short transaction."""
        return (await self._reserve([bucket], want, horizon))[0]

    async def reserve_each(self, buckets: Sequence[Bucket], horizon: float) -> list[Grant]:
        """Reserve one token of each bucket in one short transaction."""
        return await self._reserve(buckets, 1, horizon) if buckets else []

    async def _reserve(self, buckets: Sequence[Bucket], want: int, horizon: float) -> list[Grant]:
        unique = {b.name: b for b in sorted(buckets, key=lambda b: b.name)}
        async with self.db.session() as session:
            state = await self._locked(session, unique)
            now = self.clock()
            levels = {
                name: refill(tokens, unique[name].rate, unique[name].capacity, now - at)
                for name, (tokens, at) in state.items()
            }
            grants = [_take_one(levels, b, want, horizon, now) for b in buckets]
            await self._store(session, unique, levels, now)
            await session.commit()
        return grants

    async def penalize(self, bucket: Bucket, seconds: float) -> None:
        """Push the bucket into debt so every worker waits."""
        unique = {bucket.name: bucket}
        async with self.db.session() as session:
            ((tokens, at),) = (await self._locked(session, unique)).values()
            now = self.clock()
            level = refill(tokens, bucket.rate, bucket.capacity, now - at)
            level = min(level, debt_level(bucket, seconds))
            await self._store(session, unique, {bucket.name: level}, now)
            await session.commit()

    async def aclose(self) -> None:
        """Nothing to release: the database handle belongs to the caller."""


async def prune_idle_pairs(session: AsyncSession) -> int:
    """Drop pair buckets untouched for ``PAIR_IDLE`` (full again); how many went."""
    idle_since = datetime.now(UTC) - PAIR_IDLE
    idle = RateBucket.name.startswith("pair:") & (RateBucket.updated_at < idle_since)
    return dialects.rowcount(await session.execute(delete(RateBucket).where(idle)))


_Row = tuple[str, float, float, float]  # name, tokens, rate, capacity
_COLUMNS = "name, tokens, rate, capacity, updated_at"
_KEEP = (
    "ON CONFLICT (name) DO UPDATE SET tokens = rate_buckets.tokens "
    "RETURNING name, tokens, updated_at"
)
_REPLACE = (
    "ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, rate = excluded.rate, "
    "capacity = excluded.capacity, updated_at = excluded.updated_at"
)
# The arrays go in binary (%b): psycopg's text format quotes every element in Python. WITH
# ORDINALITY keeps the rows, so the locks, in the order given.
_FROM_ARRAYS = (
    "SELECT v.name, v.tokens, v.rate, v.capacity, %(at)s FROM unnest(CAST(%(name)b AS varchar[]), "
    "CAST(%(tokens)b AS float8[]), CAST(%(rate)b AS float8[]), CAST(%(capacity)b AS float8[])) "
    "WITH ORDINALITY AS v(name, tokens, rate, capacity, n) ORDER BY v.n"
)
_SQLITE_ROWS = 1000  # rows per statement: 5,000 parameters, within SQLite's 32,766


def _row(bucket: Bucket, tokens: float) -> _Row:
    # float(): psycopg refuses arrays that mix ints and floats; the columns are floats anyway
    return bucket.name, float(tokens), float(bucket.rate), float(bucket.capacity)


async def _upsert(
    connection: AsyncConnection, rows: list[_Row], now: datetime, conflict: str
) -> list[Any]:
    """Upsert the rows (in their order), all updated at ``now``; what ``conflict`` returns."""
    if not rows:
        return []
    at = stored_datetimes(connection.dialect)(now)
    if dialects.is_postgresql(connection):
        return await _upsert_arrays(connection, rows, at, conflict)
    found: list[Any] = []
    for start in range(0, len(rows), _SQLITE_ROWS):
        chunk = rows[start : start + _SQLITE_ROWS]
        values = [value for row in chunk for value in (*row, at)]
        statement = f"INSERT INTO rate_buckets ({_COLUMNS}) {_values(len(chunk))} {conflict}"
        found += _rows(await connection.exec_driver_sql(statement, tuple(values)))
    return found


async def _upsert_arrays(
    connection: AsyncConnection, rows: list[_Row], at: Any, conflict: str
) -> list[Any]:
    """PostgreSQL: every row in one statement, as one array per column."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    arrays = dict(zip(("name", "tokens", "rate", "capacity"), columns, strict=True))
    statement = f"INSERT INTO rate_buckets ({_COLUMNS}) {_FROM_ARRAYS} {conflict}"
    return _rows(await connection.exec_driver_sql(statement, {"at": at} | arrays))


@functools.cache
def _values(count: int) -> str:
    return "VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * count)


def _timestamp(at: datetime | None) -> float:
    assert at is not None  # the column is NOT NULL
    return at.timestamp()


def _rows(result: Any) -> list[Any]:
    return list(result.all()) if result.returns_rows else []


def _take_one(
    levels: dict[str, float], bucket: Bucket, want: int, horizon: float, now: float
) -> Grant:
    """Take from ``levels`` (a bucket named twice pays twice); the grant, dated ``now``."""
    grant, levels[bucket.name] = take(levels[bucket.name], bucket.rate, want, horizon)
    return Grant(grant.delays, grant.retry_after, at=now)
