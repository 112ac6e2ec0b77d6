"""The stored events as a work queue: claiming, finishing, retrying and replaying.

Two ways to own an event, both safe with several processes:

* a batch is claimed and applied in ONE transaction (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, the single writer lock on SQLite): if the process dies, nothing of the batch
  commits and the events are simply pending again;
* one event at a time (after a batch failed) is claimed by a conditional UPDATE that sets a
  lease (``claimed_until``) and counts the attempt, committed before the work, so a
  poison event is seen to fail and is retried with backoff, then marked ``failed``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Table,
    Update,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import bulk_sql, dialects
from ovenai.columns import utcnow
from ovenai.models import WebhookEvent, WebhookItemFailure

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Claimed:
    """A stored event owned by this process for now."""

    id: str
    received_at: datetime
    key_bucket: str
    body_enc: bytes | None
    attempts: int
    failures_recorded: bool = True
    """Whether an earlier processing recorded unreadable items of it (``False``: none, so
    this one need not read them back; :func:`ovenai.ingest.failures.record`)."""
    newest_stored: str | None = None
    """The greatest id of a stored body when it was claimed (:func:`lock_batch`): ids begin
    with the millisecond they were made in, so it tells how long ago the newest body came."""


def _claimable(now: datetime) -> ColumnElement[bool]:
    lease_free = or_(WebhookEvent.claimed_until.is_(None), WebhookEvent.claimed_until < now)
    return and_(WebhookEvent.status == "pending", lease_free)


_COLUMNS = (
    WebhookEvent.id,
    WebhookEvent.received_at,
    WebhookEvent.key_bucket,
    WebhookEvent.body_enc,
    WebhookEvent.attempts,
    exists().where(WebhookItemFailure.event_id == WebhookEvent.id).label("failures_recorded"),
)


_STORED = cast(Table, WebhookEvent.__table__).alias("stored")
_NEWEST = select(func.max(_STORED.c.id)).scalar_subquery().label("newest_stored")


async def lock_batch(session: AsyncSession, limit: int) -> list[Claimed]:
    """Lock up to ``limit`` claimable events, oldest first, for this transaction."""
    query = (
        select(*_COLUMNS, _NEWEST)
        .where(_claimable(utcnow()))
        .order_by(WebhookEvent.received_at, WebhookEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [Claimed(*row) for row in (await session.execute(query)).all()]


async def lease_one(session: AsyncSession, event_id: str) -> Claimed | None:
    """Take a lease on one event and count the attempt; None if someone else holds it."""
    now = utcnow()
    statement = (
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id, _claimable(now))
        .values(claimed_until=now + LEASE, attempts=WebhookEvent.attempts + 1)
        .returning(*_COLUMNS)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else Claimed(*row)


async def finish(session: AsyncSession, event_ids: list[str]) -> None:
    """Mark events processed (one statement whatever their number, :mod:`.bulk_sql`)."""
    await session.execute(
        _finishing(bulk_sql.postgresql(session)), {"ids": event_ids, "at": utcnow()}
    )


@functools.cache
def _finishing(postgresql: bool) -> Update:
    table = cast(Table, WebhookEvent.__table__)
    return (
        update(table)
        .where(dialects.one_of_parameter(table.c.id, "ids", postgresql=postgresql))
        .values(status="processed", processed_at=bindparam("at"), claimed_until=None, error=None)
    )


async def record_failure(
    session: AsyncSession, claimed: Claimed, error: str, *, final: bool
) -> str:
    """Keep the error; retry later with backoff, or give up (``failed``) when final or tried out."""
    give_up = final or claimed.attempts >= MAX_ATTEMPTS
    backoff = timedelta(seconds=2 ** min(claimed.attempts, 10))
    statement = (
        update(WebhookEvent)
        .where(WebhookEvent.id == claimed.id)
        .values(
            status="failed" if give_up else "pending",
            claimed_until=None if give_up else utcnow() + backoff,
            error=error[:2000],
        )
    )
    await session.execute(statement)
    return "failed" if give_up else "retry"


async def requeue_since(session: AsyncSession, since: datetime) -> int:
    """Make every event received at or after ``since`` pending again (for a replay)."""
    return await requeue_where(session, WebhookEvent.received_at >= since)


async def requeue_where(session: AsyncSession, condition: ColumnElement[bool]) -> int:
    """Make the events matching ``condition`` pending again, attempts reset; how many."""
    statement = (
        update(WebhookEvent)
        .where(condition)
        .values(status="pending", claimed_until=None, attempts=0, error=None)
    )
    result = await session.execute(statement)
    return dialects.rowcount(result)


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    """How many stored events are pending, processed and failed."""
    query = select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
    return {status: int(count) for status, count in (await session.execute(query)).all()}
