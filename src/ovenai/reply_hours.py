"""A period's reply counts from the reply marks kept by hour (ovenai.response_turns).

The reply rate (docs/architecture.md "Key figures") counts, of the kept ``reply_marks``:

* leads written to in a period [s, e): the ``written`` marks with ``at`` in it and
  ``previous_at`` before ``s`` (or none): one a lead;
* of them, those who replied: the ``replied`` marks with ``at`` in it, ``previous_at``
  before ``s`` (or none) and ``reply_at`` before ``e``.

Scanning every mark of the period for them (:func:`scanned`) read 550,000 rows for 30 days
at a million messages (about 200 ms). But a mark's ``previous_at`` (the ``at`` of the
lead's mark of its kind before) is never later than its own ``at``: a mark with
``previous_at`` in the period has its ``at`` in it or after its end, and one with ``at`` in
the period and ``previous_at`` not before ``s`` has both in it. So, of the marks of one
kind, mark by mark::

    #{at in [s, e), previous_at before s or none}
        = #{at in [s, e)} - #{previous_at in [s, e)} + #{previous_at in [s, e), at >= e}

and the replied leads are that count of the ``replied`` marks less those among them whose
lead wrote at or after ``e`` (``reply_at >= e``, then ``at`` in the period). The first two
terms are sums of ``reply_mark_hours`` (per kind and UTC hour: ``marks``, those whose
``at`` falls in it; ``next_marks``, those whose ``previous_at`` does) over the period's
whole hours, plus the marks of its partial hours at the edges (index ranges). The others
read only marks after ``e``: none for a period that ends now or later, and few for one
that ended lately. A period that ended longer ago than it lasts is scanned as before.

``reply_mark_hours`` is kept by the database's triggers on ``reply_marks`` (migration
0030): every insert and delete of a mark, by the turns job or by the cascade of a message
retention deletes, adds or takes its counts in the same transaction, so the sums are the
kept marks' own, at once and always. Its rows hold hours and counts only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.columns import utcnow
from ovenai.kept_hours import ceil_hour, hour_of, within
from ovenai.models import ReplyMark, ReplyMarkHour

WRITTEN = "written"
REPLIED = "replied"
KINDS = (WRITTEN, REPLIED)


def _first(start: datetime) -> ColumnElement[bool]:
    """The lead's first mark of its kind from ``start`` on (none before it since)."""
    return or_(ReplyMark.previous_at.is_(None), ReplyMark.previous_at < start)


def _scan(start: datetime, end: datetime) -> Select[int, int]:
    return select(
        func.count().filter(ReplyMark.kind == WRITTEN),
        func.count().filter(ReplyMark.kind == REPLIED, ReplyMark.reply_at < end),
    ).where(ReplyMark.kind.in_(KINDS), ReplyMark.at >= start, ReplyMark.at < end, _first(start))


async def scanned(
    session: AsyncSession, start: datetime, end: datetime, lead_ids: Sequence[str] | None = None
) -> tuple[int, int]:
    """(leads written to in the period, of them those who replied) from the kept marks of
    the period (of these leads only, if given), read one by one."""
    query = _scan(start, end)
    if lead_ids is not None:
        query = query.where(ReplyMark.lead_id.in_(lead_ids))
    written, replied = (await session.execute(query)).one()
    return int(written or 0), int(replied or 0)


async def _by_kind(session: AsyncSession, query: Select[str, int]) -> Counter[str]:
    return Counter({kind: int(count or 0) for kind, count in await session.execute(query)})


async def counts(session: AsyncSession, start: datetime, end: datetime) -> tuple[int, int]:
    """(leads written to in the period, of them those who replied) from every kept mark:
    the hours' sums and the marks after the period (the module's docstring)."""
    first, last = ceil_hour(start), hour_of(end)
    if first >= last or utcnow() - end >= end - start:
        return await scanned(session, start, end)
    at: Counter[str] = Counter()
    previous: Counter[str] = Counter()
    hours = (
        select(
            ReplyMarkHour.kind, func.sum(ReplyMarkHour.marks), func.sum(ReplyMarkHour.next_marks)
        )
        .where(
            ReplyMarkHour.kind.in_(KINDS), ReplyMarkHour.hour >= first, ReplyMarkHour.hour < last
        )
        .group_by(ReplyMarkHour.kind)
    )
    for kind, marks, next_marks in await session.execute(hours):
        at[kind] += int(marks or 0)
        previous[kind] += int(next_marks or 0)
    edges = [(a, b) for a, b in ((start, first), (last, end)) if a < b]
    if edges:
        at.update(
            await _by_kind(
                session,
                select(ReplyMark.kind, func.count())
                .where(ReplyMark.kind.in_(KINDS), within(ReplyMark.at, edges))
                .group_by(ReplyMark.kind),
            )
        )
        previous.update(
            await _by_kind(
                session,
                select(ReplyMark.kind, func.count())
                .where(ReplyMark.kind.in_(KINDS), within(ReplyMark.previous_at, edges))
                .group_by(ReplyMark.kind),
            )
        )
    # The marks whose chain crosses the end: the previous one in the period, this one after.
    crossing = await _by_kind(
        session,
        select(ReplyMark.kind, func.count())
        .where(
            ReplyMark.kind.in_(KINDS),
            ReplyMark.at >= end,
            ReplyMark.previous_at >= start,
            ReplyMark.previous_at < end,
        )
        .group_by(ReplyMark.kind),
    )
    # Replies counted above that came at or after the end.
    late = await session.scalar(
        select(func.count()).where(
            ReplyMark.kind == REPLIED,
            ReplyMark.reply_at >= end,
            ReplyMark.at >= start,
            ReplyMark.at < end,
            _first(start),
        )
    )
    leads = {kind: at[kind] - previous[kind] + crossing[kind] for kind in KINDS}
    return leads[WRITTEN], leads[REPLIED] - int(late or 0)
