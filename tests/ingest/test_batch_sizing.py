"""On SQLite the processor sizes its batches by time, so one batch holds the write lock for
about ``LOCK_BUDGET_S`` whatever its bodies cost; on PostgreSQL, or when told, the size is fixed.

The sizer is fed batch timings here (no clock is read), as the processor feeds it the time from
each claim to its commit.
"""

from __future__ import annotations

import pytest

from ovenai import dialects
from ovenai.db import Database
from ovenai.ingest.processor import BATCH_SIZE, LOCK_BUDGET_S, BatchSizer, Processor


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
