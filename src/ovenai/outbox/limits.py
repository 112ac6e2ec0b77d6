"""Meta's sending limits as shared token buckets, so any number of workers stays within them.

Every limit is a token bucket that may go into debt ("bursts borrow from later", cloud-api.md
§6): taking a token that is not there yet gives a send *time* instead of a refusal. A worker
reserves tokens in blocks, one call per block, and sends each message at its slot
(:mod:`ovenai.outbox.pacing`), so two workers pacing through one bucket never send faster
than the bucket's rate together.

* throughput of the number: ``mps:{phone_number_id}``, rate = messages per second;
* the pair limit to one user: ``pair:{lead_id}``, one message per interval, a small burst;
* the messaging-limit tier: unique users reached outside a service window in a rolling
  24 hours, per business portfolio (counted in the database, see :func:`reach_allowance`).

Buckets live in the database (:class:`DatabaseBuckets`, ``rate_buckets`` rows locked while
they change) or, when ``REDIS_URL`` is set, in Redis (:class:`RedisBuckets`, one Lua script
per change, Redis's own clock). A throttling answer from Meta :meth:`penalize`\\ s the bucket:
it is held in debt for a while and every worker waits, instead of hammering; a burst of
refusals holds it once, not once per refusal.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ovenai.db import Database, read_datetimes, stored_datetimes
from ovenai.models import RateBucket

REACH_WINDOW = timedelta(hours=24)
# A bucket never goes deeper into debt than this many seconds of its rate (penalties included).
MAX_DEBT_S = 600.0


@dataclass(frozen=True, slots=True)
class Bucket:
    """A named token bucket: ``rate`` tokens per second, at most ``capacity`` saved up."""

    name: str
    rate: float
    capacity: float


@dataclass(frozen=True, slots=True)
class Grant:
    """Tokens reserved: the delay (s from now) of each; when short, when to ask again."""

    delays: list[float]
    retry_after: float = 0.0
    at: float | None = None  # the bucket's clock (epoch s) the delays count from, if known


def refill(tokens: float, rate: float, capacity: float, elapsed: float) -> float:
    """The level of a bucket after ``elapsed`` seconds of refilling."""
    return min(capacity, tokens + rate * max(0.0, elapsed))


def take(level: float, rate: float, want: int, horizon: float) -> tuple[Grant, float]:
    """Reserve up to ``want`` tokens whose slot lies within ``horizon`` s; the new level.

    The i-th token's slot is when the level, after paying for it, is back at zero.
    """
    fits = math.floor(level + horizon * rate + 1e-9)
    granted = max(0, min(want, fits))
    delays = [max(0.0, (i + 1 - level) / rate) for i in range(granted)]
    retry_after = 0.0
    if granted < want:
        retry_after = max(0.0, (granted + 1 - level) / rate - horizon)
    return Grant(delays, retry_after), level - granted


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


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


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
            level = min(level, -bucket.rate * min(seconds, MAX_DEBT_S))
            await self._store(session, unique, {bucket.name: level}, now)
            await session.commit()

    async def aclose(self) -> None:
        """Nothing to release: the database handle belongs to the caller."""


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
    if connection.dialect.name == "postgresql":
        columns = [list(column) for column in zip(*rows, strict=True)]
        arrays = dict(zip(("name", "tokens", "rate", "capacity"), columns, strict=True))
        statement = f"INSERT INTO rate_buckets ({_COLUMNS}) {_FROM_ARRAYS} {conflict}"
        return _rows(await connection.exec_driver_sql(statement, {"at": at} | arrays))
    found: list[Any] = []
    for start in range(0, len(rows), _SQLITE_ROWS):
        chunk = rows[start : start + _SQLITE_ROWS]
        values = [value for row in chunk for value in (*row, at)]
        statement = f"INSERT INTO rate_buckets ({_COLUMNS}) {_values(len(chunk))} {conflict}"
        found += _rows(await connection.exec_driver_sql(statement, tuple(values)))
    return found


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


# KEYS[1] = bucket; ARGV = rate, capacity, want, horizon, penalty tokens, max debt, ttl.
# Returns {granted, level before taking, Redis's clock} (as strings: Lua numbers become ints).
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
local want, horizon = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local level = cap
if state[1] then
  level = math.min(cap, tonumber(state[1]) + rate * math.max(0, now - tonumber(state[2])))
end
local granted = math.floor(level + horizon * rate + 1e-9)
if granted > want then granted = want end
if granted < 0 then granted = 0 end
local after = level - granted
if tonumber(ARGV[5]) > 0 then
  after = math.min(after, -math.min(tonumber(ARGV[5]), tonumber(ARGV[6])))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(after), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
return {granted, tostring(level), tostring(now)}
"""


class RedisBuckets:
    """Buckets in Redis (``REDIS_URL``): one atomic Lua script per change."""

    def __init__(self, url: str, *, prefix: str = "ovenai:bucket:") -> None:
        from redis.asyncio import Redis

        self.redis: Any = Redis.from_url(url)
        self.prefix = prefix
        self.script: Any = self.redis.register_script(_RESERVE_LUA)

    def _args(self, bucket: Bucket, want: int, horizon: float, penalty: float) -> list[Any]:
        ttl = int(bucket.capacity / bucket.rate + MAX_DEBT_S) + 60
        debt = bucket.rate * MAX_DEBT_S
        return [bucket.rate, bucket.capacity, want, horizon, penalty, debt, ttl]

    @staticmethod
    def _grant(bucket: Bucket, answer: Sequence[Any], want: int, horizon: float) -> Grant:
        grant, _ = take(float(answer[1]), bucket.rate, want, horizon)
        return Grant(grant.delays, grant.retry_after, at=float(answer[2]))

    async def reserve(self, bucket: Bucket, want: int, horizon: float) -> Grant:
        """Reserve tokens of one bucket atomically on the Redis server."""
        keys = [self.prefix + bucket.name]
        answer = await self.script(keys=keys, args=self._args(bucket, want, horizon, 0.0))
        return self._grant(bucket, answer, want, horizon)

    async def reserve_each(self, buckets: Sequence[Bucket], horizon: float) -> list[Grant]:
        """Reserve one token of each bucket in one pipelined round trip."""
        if not buckets:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for bucket in buckets:
                args = self._args(bucket, 1, horizon, 0.0)
                await self.script(keys=[self.prefix + bucket.name], args=args, client=pipe)
            answers = await pipe.execute()
        return [self._grant(b, a, 1, horizon) for b, a in zip(buckets, answers, strict=True)]

    async def penalize(self, bucket: Bucket, seconds: float) -> None:
        """Push the bucket into debt so every worker waits."""
        args = self._args(bucket, 0, 0.0, bucket.rate * seconds)
        await self.script(keys=[self.prefix + bucket.name], args=args)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()


def open_buckets(db: Database, redis_url: str | None) -> Buckets:
    """Redis buckets when ``REDIS_URL`` is set, else database buckets."""
    return RedisBuckets(redis_url) if redis_url else DatabaseBuckets(db)


def _reach_name(portfolio: str, lead_id: str = "") -> str:
    return f"reach:{portfolio}:{lead_id}"


async def reach_allowance(
    session: AsyncSession, *, portfolio: str, lead_ids: Sequence[str], limit: int | None
) -> tuple[set[str], float]:
    """Which leads may get a business-initiated message now under the messaging-limit tier.

    A lead already reached in the rolling 24 hours costs nothing; a new one takes a place
    while places are left. Places are recorded at once (inside the caller's transaction,
    under the portfolio's lock), so concurrent workers never overrun the tier together.
    Returns the allowed leads and, when some were held back, seconds until a place frees.
    """
    if limit is None or not lead_ids:
        return set(lead_ids), 0.0
    now = datetime.now(UTC)
    await _lock_portfolio(session, portfolio, now)
    recent = await _recent_reach(session, portfolio, now)
    allowed = {lead for lead in lead_ids if lead in recent}
    fresh = [lead for lead in dict.fromkeys(lead_ids) if lead not in recent]
    room = max(0, limit - len(recent))
    admitted = fresh[:room]
    await _record_reach(session, portfolio, admitted, now)
    allowed.update(admitted)
    if len(admitted) == len(fresh):
        return allowed, 0.0
    oldest = min(recent.values(), default=now)
    return allowed, max(1.0, (oldest + REACH_WINDOW - now).total_seconds())


async def _lock_portfolio(session: AsyncSession, portfolio: str, now: datetime) -> None:
    name = f"tier:{portfolio}"
    row = {"name": name, "tokens": 0.0, "rate": 0.0, "capacity": 0.0, "updated_at": now}
    await session.execute(_insert(session)(RateBucket).values(row).on_conflict_do_nothing())
    await session.execute(select(RateBucket.name).where(RateBucket.name == name).with_for_update())


async def _recent_reach(
    session: AsyncSession, portfolio: str, now: datetime
) -> dict[str, datetime]:
    prefix = _reach_name(portfolio)
    query = select(RateBucket.name, RateBucket.updated_at).where(
        RateBucket.name.startswith(prefix, autoescape=True),
        RateBucket.updated_at > now - REACH_WINDOW,
    )
    return {name.removeprefix(prefix): at for name, at in await session.execute(query)}


async def _record_reach(
    session: AsyncSession, portfolio: str, lead_ids: Sequence[str], now: datetime
) -> None:
    if not lead_ids:
        return
    rows = [
        {"name": _reach_name(portfolio, lead), "tokens": 0.0, "rate": 0.0, "capacity": 0.0}
        | {"updated_at": now}
        for lead in lead_ids
    ]
    statement = _insert(session)(RateBucket).values(rows)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[RateBucket.name], set_={"updated_at": statement.excluded.updated_at}
        )
    )


async def reached_count(session: AsyncSession, *, portfolio: str) -> int:
    """Unique users reached outside a service window in the last 24 hours."""
    now = datetime.now(UTC)
    query = select(func.count()).where(
        RateBucket.name.startswith(_reach_name(portfolio), autoescape=True),
        RateBucket.updated_at > now - REACH_WINDOW,
    )
    return int(await session.scalar(query) or 0)


async def prune(session: AsyncSession) -> int:
    """Drop pair buckets that are full again and reach records older than 24 hours."""
    now = datetime.now(UTC)
    idle = RateBucket.name.startswith("pair:") & (RateBucket.updated_at < now - timedelta(hours=1))
    old = RateBucket.name.startswith("reach:") & (RateBucket.updated_at < now - REACH_WINDOW)
    result = await session.execute(delete(RateBucket).where(idle | old))
    return int(getattr(result, "rowcount", 0) or 0)
