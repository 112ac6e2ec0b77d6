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
every hour. Until then, every period is counted live. What the two hourly figures share
(the job's run, ``GRACE``, the hours' arithmetic) is :mod:`ovenai.kept_hours`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import kept_hours
from ovenai.db import Database
from ovenai.kept_hours import HOUR, Kept, ceil_hour, hour_in_sql, hour_of, hour_ranges, within
from ovenai.models import CohortHour, CohortHoursStale, Direction, Message, StatusEvent
from ovenai.response_turns import first_id_at

EVERY_S = kept_hours.EVERY_S
LEASE_S = kept_hours.LEASE_S
PROGRESS = "cohort"  # its row of response_turns_progress

Group = tuple[str, str, int | None]  # (status, template name or "", error code)


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


async def kept(session: AsyncSession) -> Kept:
    """The kept hours' state now (one report or chart reads several periods with it)."""
    return await kept_hours.kept(session, KEEPER)


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


async def _span(session: AsyncSession) -> tuple[datetime | None, datetime | None]:
    """The first and last outcome of an outbound message (the first run's hours)."""
    outcome = func.coalesce(Message.sent_at, Message.failed_at)
    query = select(func.min(outcome), func.max(outcome)).where(
        Message.direction == Direction.OUTBOUND
    )
    earliest, latest = (await session.execute(query)).one()
    return earliest, latest


KEEPER = kept_hours.Keeper(
    progress=PROGRESS,
    kept_table=CohortHour,
    stale_table=CohortHoursStale,
    span=_span,
    touched=_touched_hours,
    recount=_recount,
    what="outbound cohort",
)


async def refresh(db: Database) -> int:
    """The ``kpis.cohort`` job: the touched hours counted again (:mod:`ovenai.kept_hours`)."""
    return await kept_hours.refresh(db, KEEPER)


async def mark_stale(session: AsyncSession, times: Iterable[datetime | None]) -> None:
    """The hours of these outcome times must be counted again (their messages go)."""
    await kept_hours.mark_stale(session, KEEPER, times)
