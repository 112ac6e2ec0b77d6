"""Agents' first-response waits by hour, kept for the key figures (ovenai.kpis).

A period's first responses (docs/architecture.md "Key figures": the turns leads started in
it, and how long until a person answered each) were an exact median and 95th percentile
of every wait of the period, one read and three sorts of its turns (232,563 for 30 days
at a million messages: 550-850 ms at load 5). They are summarised from log-spaced buckets
instead (ovenai.duration_buckets: the median and 95th percentile within 1 %; the count,
mean and longest wait exact), as webhook processing times are, kept by the UTC hour the
turn started in (``response_turn_hours``: one row per hour, agent who answered and bucket,
with the count, sum, smallest and largest wait; ``bucket`` None: the hour's turns not
answered yet). No row names a lead.

The kept hours are the kept turns' (``response_turns``) bucketed: the ``kpis.turns`` job
counts again, in the transaction that writes a batch's turns, the hours of the turns it
added, changed or removed (:func:`recount`). Its first run counts every hour
(:mod:`ovenai.kept_hours`, a ``turn_hours`` row of ``response_turns_progress``); until
then a report reads the turns. Retention deletes turns with their messages behind the
job's back: it marks their hours stale (``response_turn_hours_stale``, :func:`mark_stale`)
and the job counts them again.

A report (:func:`tally`) takes its whole hours from the kept rows, and reads from the
kept turns the partial hours at its edges and the hours whose turns are not the kept
ones: those of the turns the leads written since the job's last run have changed (given
as the kept turns and the ones counted live: a turn answered since has its wait now) and
the stale hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import duration_buckets, kept_hours
from ovenai.db import Database
from ovenai.duration_buckets import Bucket
from ovenai.kept_hours import HOUR, Ranges, ceil_hour, hour_of, hour_ranges, within
from ovenai.models import ResponseTurn, ResponseTurnHour, ResponseTurnHoursStale

PROGRESS = "turn_hours"  # its row of response_turns_progress


class TurnLike(Protocol):
    """A turn (``ovenai.response_turns.Turn``, or a row of ``response_turns``)."""

    @property
    def message_id(self) -> str: ...
    @property
    def lead_id(self) -> str: ...
    @property
    def turn_at(self) -> datetime: ...
    @property
    def reply_at(self) -> datetime | None: ...
    @property
    def replied_by_id(self) -> str | None: ...


def waited(turn: TurnLike) -> float | None:
    """Seconds until a person answered the turn (None: not yet)."""
    return None if turn.reply_at is None else (turn.reply_at - turn.turn_at).total_seconds()


def _combined(seen: Bucket | None, bucket: Bucket) -> Bucket:
    if seen is None:
        return bucket
    return Bucket(
        bucket.index,
        seen.count + bucket.count,
        seen.total + bucket.total,
        min(seen.least, bucket.least),
        max(seen.most, bucket.most),
    )


@dataclass
class Tally:
    """Turns counted: how many were not answered yet, and the answered ones' waits in
    buckets by the agent who answered (None: an agent since deleted)."""

    unanswered: int = 0
    by_agent: dict[str | None, dict[int, Bucket]] = field(default_factory=dict)

    def add(self, agent: str | None, bucket: Bucket) -> None:
        """Merge a bucket of waits answered by ``agent``."""
        buckets = self.by_agent.setdefault(agent, {})
        buckets[bucket.index] = _combined(buckets.get(bucket.index), bucket)

    def add_turn(self, turn: TurnLike) -> None:
        """Count one turn."""
        wait = waited(turn)
        if wait is None:
            self.unanswered += 1
        else:
            self.add(
                turn.replied_by_id, Bucket(duration_buckets.bucket_of(wait), 1, wait, wait, wait)
            )

    @property
    def answered(self) -> int:
        return sum(b.count for buckets in self.by_agent.values() for b in buckets.values())

    def overall(self) -> list[Bucket]:
        """Every agent's buckets merged."""
        merged: dict[int, Bucket] = {}
        for buckets in self.by_agent.values():
            for index, bucket in buckets.items():
                merged[index] = _combined(merged.get(index), bucket)
        return list(merged.values())


@dataclass(frozen=True)
class Period:
    """A period's first responses: the tally, the turns read one by one (the edges and
    the hours not taken from the kept rows) and which hours came from the kept rows."""

    start: datetime
    end: datetime
    tally: Tally
    turns: list[TurnLike]
    kept_from: datetime | None  # the kept hours [kept_from, kept_until) less ``skipped``
    kept_until: datetime | None
    skipped: frozenset[datetime]
    gone: frozenset[str]  # kept turns no longer so (their message ids)


def _key(turn: TurnLike) -> tuple[str, str, datetime, datetime | None, str | None]:
    return (turn.message_id, turn.lead_id, turn.turn_at, turn.reply_at, turn.replied_by_id)


async def apply(session: AsyncSession, old: Iterable[TurnLike], new: Iterable[TurnLike]) -> None:
    """Keep the hours of the turns that went from ``old`` to ``new`` (the kept turns just
    replaced): each turn added is a row added to its hour (and a turn no longer waiting a
    row taking one from the hour's unanswered), so the cost follows the turns that changed,
    not the hours' sizes; an hour that lost an answered turn (a late message split a turn)
    is counted again from the kept turns, as its smallest and largest wait may have gone.
    The added rows are folded into one a bucket when the hour is compacted
    (:func:`compact`)."""
    before = {_key(t): t for t in old}
    after = {_key(t): t for t in new}
    removed = [t for key, t in before.items() if key not in after]
    added = [t for key, t in after.items() if key not in before]
    again = {hour_of(t.turn_at) for t in removed if t.reply_at is not None}
    rows: list[dict[str, object]] = []
    for turn, sign in [(t, -1) for t in removed] + [(t, 1) for t in added]:
        hour = hour_of(turn.turn_at)
        if hour in again:
            continue
        wait = waited(turn)
        if wait is None:
            rows.append(_row(hour, None, None, Bucket(0, sign, 0.0, 0.0, 0.0)))
        else:  # an answered turn is only ever added here
            index = duration_buckets.bucket_of(wait)
            rows.append(_row(hour, turn.replied_by_id, index, Bucket(index, 1, wait, wait, wait)))
    if rows:
        await session.execute(insert(ResponseTurnHour), rows)
    await recount(session, hour_ranges(again))


def _row(hour: datetime, agent: str | None, index: int | None, bucket: Bucket) -> dict[str, object]:
    return {
        "hour": hour,
        "agent_id": agent,
        "bucket": index,
        "count": bucket.count,
        "total": bucket.total,
        "least": bucket.least,
        "most": bucket.most,
    }


COMPACT_AFTER = (timedelta(hours=2), timedelta(hours=26))


def due(previous: datetime, now: datetime) -> list[datetime]:
    """The hours to compact between two runs: those that ended two hours ago, and a day
    later (most turns are answered by then), since the previous run."""
    hours: set[datetime] = set()
    for delay in COMPACT_AFTER:
        hour = ceil_hour(previous - delay - HOUR)
        while hour + HOUR + delay <= now:
            if hour + HOUR + delay > previous:
                hours.add(hour)
            hour += HOUR
    return sorted(hours)


async def compact(db: Database, hours: list[datetime]) -> None:
    """Count these hours again from the kept turns: one row a bucket (:func:`apply` adds
    one a turn)."""
    if hours:
        async with db.session() as session:
            await recount(session, hour_ranges(hours))
            await session.commit()


async def tally(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    old: list[TurnLike],
    new: list[TurnLike],
) -> Period:
    """The first responses of the turns started in the period (``start`` inclusive,
    ``end`` exclusive): the kept hours for its whole hours, with the turns that went from
    ``old`` (kept) to ``new`` (counted live since) added and taken away; the kept turns,
    so replaced, for its edges, for the hours that lost an answered turn (their smallest
    and largest wait may be gone) and for the stale hours."""
    state = await kept_hours.kept(session, KEEPER)
    before = {_key(t): t for t in old}
    after = {_key(t): t for t in new}
    removed = [t for key, t in before.items() if key not in after]
    fresh = [t for key, t in after.items() if key not in before]
    gone = frozenset(t.message_id for t in removed)
    first, last = ceil_hour(start), hour_of(end)
    if state.touched is None or first >= last:
        ranges: Ranges = [(start, end)]
        kept_from = kept_until = None
        skipped: frozenset[datetime] = frozenset()
    else:
        touched = {hour_of(t.turn_at) for t in removed if t.reply_at is not None}
        touched |= state.touched
        skipped = frozenset(hour for hour in touched if first <= hour < last)
        ranges = [(start, first), *hour_ranges(skipped), (last, end)]
        ranges = [(a, b) for a, b in ranges if a < b]
        kept_from, kept_until = first, last

    def read_one_by_one(at: datetime) -> bool:
        return any(a <= at < b for a, b in ranges)

    by_id: dict[str, TurnLike] = {}
    if ranges:
        turns = select(ResponseTurn).where(within(ResponseTurn.turn_at, ranges))
        for row in await session.scalars(turns):
            if row.message_id not in gone:
                by_id[row.message_id] = row
    for turn in fresh:
        if read_one_by_one(turn.turn_at):
            by_id[turn.message_id] = turn
    found = Tally()
    for turn in by_id.values():
        found.add_turn(turn)
    added: list[TurnLike] = []
    if kept_from is not None and kept_until is not None:
        kept_rows = (
            select(
                ResponseTurnHour.agent_id,
                ResponseTurnHour.bucket,
                func.sum(ResponseTurnHour.count),
                func.sum(ResponseTurnHour.total),
                func.min(ResponseTurnHour.least),
                func.max(ResponseTurnHour.most),
            )
            .where(ResponseTurnHour.hour >= kept_from, ResponseTurnHour.hour < kept_until)
            .group_by(ResponseTurnHour.agent_id, ResponseTurnHour.bucket)
        )
        if skipped:
            kept_rows = kept_rows.where(ResponseTurnHour.hour.not_in(sorted(skipped)))
        for agent, index, count, total, least, most in await session.execute(kept_rows):
            if index is None:
                found.unanswered += int(count)
            else:
                found.add(
                    agent, Bucket(int(index), int(count), float(total), float(least), float(most))
                )

        def kept_hour(at: datetime) -> bool:
            return kept_from <= at < kept_until and not read_one_by_one(at)

        added = [turn for turn in fresh if kept_hour(turn.turn_at)]
        for turn in added:
            found.add_turn(turn)
        for turn in removed:  # none answered: their hours are read one by one
            if kept_hour(turn.turn_at):
                found.unanswered -= 1
    return Period(
        start, end, found, [*by_id.values(), *added], kept_from, kept_until, skipped, gone
    )


async def oldest_unanswered(
    session: AsyncSession, period: Period, limit: int
) -> list[tuple[datetime, str]]:
    """The period's ``limit`` oldest turns not answered yet, as (turn time, lead): by the
    turns' time index, which stops once it has found them."""
    query = (
        select(ResponseTurn.turn_at, ResponseTurn.lead_id, ResponseTurn.message_id)
        .where(
            ResponseTurn.turn_at >= period.start,
            ResponseTurn.turn_at < period.end,
            ResponseTurn.reply_at.is_(None),
        )
        .order_by(ResponseTurn.turn_at)
        .limit(limit + len(period.gone))
    )
    found = {
        message_id: (turn_at, lead_id)
        for turn_at, lead_id, message_id in await session.execute(query)
        if message_id not in period.gone
    }
    for turn in period.turns:  # the live ones among them
        if turn.reply_at is None:
            found[turn.message_id] = (turn.turn_at, turn.lead_id)
    return sorted(found.values())[:limit]


async def longest_answered(
    session: AsyncSession, period: Period, limit: int
) -> list[tuple[float, datetime, str]]:
    """The period's ``limit`` longest waits, as (seconds, turn time, lead): the kept hours
    say which buckets hold them and which hours have a wait in those buckets; only those
    hours' turns are read (with the ones the tally read already)."""
    threshold: int | None = None
    seen = 0
    for bucket in sorted(period.tally.overall(), key=lambda b: -b.index):
        seen += bucket.count
        threshold = bucket.index
        if seen >= limit:
            break
    if threshold is None:
        return []
    turns: dict[str, TurnLike] = {t.message_id: t for t in period.turns}
    if period.kept_from is not None and period.kept_until is not None:
        hours_query = (
            select(ResponseTurnHour.hour)
            .where(
                ResponseTurnHour.hour >= period.kept_from,
                ResponseTurnHour.hour < period.kept_until,
                ResponseTurnHour.bucket >= threshold,
            )
            .distinct()
        )
        hours = {hour_of(h) for h in await session.scalars(hours_query)} - period.skipped
        if hours:
            query = select(ResponseTurn).where(
                within(ResponseTurn.turn_at, hour_ranges(hours)),
                ResponseTurn.reply_at.is_not(None),
            )
            for row in await session.scalars(query):
                if row.message_id not in period.gone:
                    turns.setdefault(row.message_id, row)
    waits = []
    for turn in turns.values():
        wait = waited(turn)
        if wait is not None and duration_buckets.bucket_of(wait) >= threshold:
            waits.append((wait, turn.turn_at, turn.lead_id))
    waits.sort(key=lambda item: (-item[0], item[1]))
    return waits[:limit]


async def recount(session: AsyncSession, ranges: Ranges) -> None:
    """Count these hours again from the kept turns."""
    if not ranges:
        return
    await session.execute(delete(ResponseTurnHour).where(within(ResponseTurnHour.hour, ranges)))
    query = select(ResponseTurn.turn_at, ResponseTurn.reply_at, ResponseTurn.replied_by_id).where(
        within(ResponseTurn.turn_at, ranges)
    )
    found: dict[tuple[datetime, str | None, int | None], Bucket] = {}
    for turn_at, reply_at, agent in await session.execute(query):
        hour = hour_of(turn_at)
        if reply_at is None:
            key: tuple[datetime, str | None, int | None] = (hour, None, None)
            found[key] = _combined(found.get(key), Bucket(0, 1, 0.0, 0.0, 0.0))
            continue
        wait = (reply_at - turn_at).total_seconds()
        index = duration_buckets.bucket_of(wait)
        key = (hour, agent, index)
        found[key] = _combined(found.get(key), Bucket(index, 1, wait, wait, wait))
    rows = [_row(hour, agent, index, bucket) for (hour, agent, index), bucket in found.items()]
    if rows:
        await session.execute(insert(ResponseTurnHour), rows)


async def _span(session: AsyncSession) -> tuple[datetime | None, datetime | None]:
    """The first and last turn kept (the first run's hours)."""
    query = select(func.min(ResponseTurn.turn_at), func.max(ResponseTurn.turn_at))
    earliest, latest = (await session.execute(query)).one()
    return earliest, latest


async def _stale_hours(session: AsyncSession, since: datetime) -> set[datetime]:
    """The hours retention took turns from (the job keeps the others as it writes them)."""
    return {hour_of(at) for at in await session.scalars(select(ResponseTurnHoursStale.hour))}


KEEPER = kept_hours.Keeper(
    progress=PROGRESS,
    kept_table=ResponseTurnHour,
    stale_table=ResponseTurnHoursStale,
    span=_span,
    touched=_stale_hours,
    recount=recount,
    what="first-response waits",
)


async def kept(session: AsyncSession) -> bool:
    """Whether the kept hours were counted (else the turns are read)."""
    return (await kept_hours.kept(session, KEEPER)).touched is not None


async def refresh(db: Database) -> int:
    """Count every hour on the first run, then the stale hours (:mod:`ovenai.kept_hours`)."""
    return await kept_hours.refresh(db, KEEPER)


async def mark_stale(session: AsyncSession, times: Iterable[datetime]) -> None:
    """The hours of these turns must be counted again (retention deletes them)."""
    await kept_hours.mark_stale(session, KEEPER, times)
