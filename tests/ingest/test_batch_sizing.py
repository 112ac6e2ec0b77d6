"""On SQLite the processor sizes its batches by time, so one batch holds the write lock for
about ``LOCK_BUDGET_S`` whatever its bodies cost, and takes the largest batches while no body
has arrived for ``QUIET_AFTER_S`` (nobody waits for the lock); on PostgreSQL, or when told,
the size is fixed.

The sizer is fed batch timings here (no clock is read), as the processor feeds it the time from
each claim to its commit.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from ovenai import dialects
from ovenai.columns import id_millis, new_id, utcnow
from ovenai.db import Database
from ovenai.ingest import backlog
from ovenai.ingest.processor import (
    BATCH_SIZE,
    LOCK_BUDGET_S,
    QUIET_AFTER_S,
    BatchSizer,
    Processor,
)
from ovenai.models import WebhookEvent


def settled(sizer: BatchSizer, per_body_s: float, *, fixed_s: float = 0.0) -> int:
    """The size after many batches whose bodies cost ``per_body_s`` each (plus ``fixed_s``)."""
    for _ in range(60):
        size = sizer.size
        sizer.observe(size, fixed_s + size * per_body_s)
    return sizer.size


def test_costly_bodies_make_small_batches_and_cheap_ones_large() -> None:
    assert settled(BatchSizer(), 0.001) == pytest.approx(LOCK_BUDGET_S / 0.001, abs=1)  # 10
    assert settled(BatchSizer(), 0.000_1) == pytest.approx(LOCK_BUDGET_S / 0.000_1, abs=1)
    assert settled(BatchSizer(), 0.000_001) == BATCH_SIZE  # never more than the largest
    assert settled(BatchSizer(), 0.5) == 1  # never fewer than one


def test_a_batch_s_own_overhead_is_counted_so_a_whole_batch_fits_the_budget() -> None:
    size = settled(BatchSizer(), 0.000_2, fixed_s=0.004)
    assert size == pytest.approx((LOCK_BUDGET_S - 0.004) / 0.000_2, abs=1)  # 30, not 50
    assert 0.004 + size * 0.000_2 <= LOCK_BUDGET_S * 1.01


def test_a_large_fixed_part_does_not_keep_batches_at_one_body() -> None:
    sizer = BatchSizer()
    settled(sizer, 0.02)  # a busy box: one body takes 20 ms, over the budget
    assert sizer.size == 1
    size = settled(sizer, 0.000_15, fixed_s=0.0085)  # then 8.5 ms a batch + 150 µs a body
    assert size == pytest.approx((LOCK_BUDGET_S - 0.0085) / 0.000_15, abs=1)  # 10, not 1


def test_the_size_follows_when_the_bodies_change() -> None:
    sizer = BatchSizer()
    assert settled(sizer, 0.000_04) == BATCH_SIZE  # statuses
    assert settled(sizer, 0.002) == pytest.approx(5, abs=1)  # then new senders' messages
    assert settled(sizer, 0.000_04) == BATCH_SIZE


@pytest.mark.anyio
async def test_the_processor_sizes_by_time_only_on_sqlite_and_only_when_not_told(
    db: Database,
) -> None:
    chosen = Processor(db)
    told = Processor(db, batch_size=7)
    told._timed(7, 1.0)  # a slow batch changes nothing when the size was given
    assert told.batch_size == 7
    if dialects.is_postgresql(db.dialect):
        assert chosen.batch_size == BATCH_SIZE
        chosen._timed(200, 2.0)
        assert chosen.batch_size == BATCH_SIZE
        return
    chosen._timed(20, 0.2)  # 10 ms a body
    chosen._timed(20, 0.2)
    assert chosen.batch_size < 20


def test_while_nothing_arrives_batches_take_the_largest_size() -> None:
    sizer = BatchSizer()
    assert settled(sizer, 0.001) == pytest.approx(10, abs=1)
    sizer.quiet = True  # no acknowledgement waits for the lock: drain fast
    assert sizer.size == BATCH_SIZE
    sizer.quiet = False
    assert sizer.size == pytest.approx(10, abs=1)


def made_ago(seconds: float) -> str:
    """An id of new_id's layout made ``seconds`` ago."""
    millis = int((time.time() - seconds) * 1000)
    return str(uuid.UUID(int=(millis << 80) | (uuid.UUID(new_id()).int & ((1 << 80) - 1))))


def test_an_id_tells_when_it_was_made() -> None:
    assert abs(id_millis(made_ago(3600)) - (time.time() - 3600) * 1000) < 5
    assert abs(id_millis(new_id()) - time.time() * 1000) < 5


@pytest.mark.anyio
async def test_the_processor_drains_in_large_batches_while_no_body_arrives(db: Database) -> None:
    processor = Processor(db)
    if dialects.is_postgresql(db.dialect):
        assert processor.batch_size == BATCH_SIZE
        return
    for age, large in ((0.0, False), (QUIET_AFTER_S * 2, True), (0.05, False), (60, True)):
        processor._arrivals(made_ago(age))  # the newest stored body, as each claim saw it
        processor._timed(10, 0.1)  # 10 ms a body: time-sized batches take one
        assert (processor.batch_size == BATCH_SIZE) is large, age


@pytest.mark.anyio
async def test_a_claim_tells_the_newest_body_stored(db: Database) -> None:
    *oldest, newest = sorted(new_id() for _ in range(4))  # the greatest id is the newest
    start = utcnow()
    async with db.session() as session:
        for n, event_id in enumerate(oldest):
            at = start + timedelta(milliseconds=n)
            session.add(WebhookEvent(id=event_id, received_at=at, key_bucket="t", body_size=1))
        session.add(WebhookEvent(id=newest, key_bucket="t", body_size=1, status="processed"))
        await session.flush()
        claimed = await backlog.lock_batch(session, 2)
        await session.rollback()
    assert [c.id for c in claimed] == oldest[:2]
    assert {c.newest_stored for c in claimed} == {newest}
