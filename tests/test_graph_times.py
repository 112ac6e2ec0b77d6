"""Graph API call times: summed by minute and hour, shared by processes, read back, pruned
(both databases). The real transport's calls, stored by the real writer, are read by the key
figures in tests/monitoring/test_figures_of_real_sends.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ovenai import graph_times
from ovenai.cloudapi import timings
from ovenai.db import Database
from ovenai.duration_buckets import bucket_of
from ovenai.models import GraphCallTime

pytestmark = pytest.mark.anyio
NOON = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _at(moment: datetime, endpoint: str, seconds: float, *, failed: bool = False) -> timings.Call:
    return timings.Call(moment.timestamp(), endpoint, seconds, failed)


async def _rows(db: Database, span: int) -> list[GraphCallTime]:
    async with db.session() as session:
        query = select(GraphCallTime).where(GraphCallTime.span_s == span)
        return list(await session.scalars(query.order_by(GraphCallTime.started_at)))


async def _add(db: Database, calls: list[timings.Call]) -> None:
    async with db.session() as session:
        await graph_times.add(session, graph_times.rows_of(calls))
        await session.commit()


async def test_calls_are_summed_by_minute_and_by_hour_and_stores_add_up(db: Database) -> None:
    same_bucket = [0.2, 0.201]  # one log-spaced bucket (1 % wide)
    assert bucket_of(same_bucket[0]) == bucket_of(same_bucket[1])
    await _add(db, [_at(NOON + timedelta(seconds=10), "send_text", same_bucket[0])])
    # Another process (or the next turn) adds to the same rows, a failure among them.
    later = [
        _at(NOON + timedelta(seconds=50), "send_text", same_bucket[1], failed=True),
        _at(NOON + timedelta(minutes=1, seconds=5), "send_text", same_bucket[0]),
        _at(NOON + timedelta(minutes=30), "templates", 1.5),
    ]
    await _add(db, later)

    minutes = await _rows(db, graph_times.MINUTE)
    first = [r for r in minutes if r.started_at == NOON]
    assert [(r.endpoint, r.calls, r.failed) for r in first] == [("send_text", 2, 1)]
    assert first[0].least == pytest.approx(0.2) and first[0].most == pytest.approx(0.201)
    assert first[0].total == pytest.approx(0.401)
    assert len(minutes) == 3
    hours = await _rows(db, graph_times.HOUR)
    by_endpoint = {r.endpoint: (r.started_at, r.calls, r.failed) for r in hours}
    assert by_endpoint == {"send_text": (NOON, 3, 1), "templates": (NOON, 1, 0)}


async def test_a_period_reads_its_hours_and_the_alert_its_minutes(db: Database) -> None:
    calls = [_at(NOON + timedelta(seconds=n), "send_text", 0.1) for n in range(19)]
    calls.append(_at(NOON + timedelta(seconds=30), "send_text", 7.0, failed=True))
    calls.append(_at(NOON + timedelta(hours=2), "send_text", 3.0))  # another hour
    await _add(db, calls)

    async with db.session() as session:
        noon_hour, failed = await graph_times.summary(session, NOON, NOON + timedelta(hours=1))
        both, _ = await graph_times.summary(session, NOON, NOON + timedelta(hours=3))
        first_minute, _ = await graph_times.summary(
            session, NOON, NOON + timedelta(minutes=1), span=graph_times.MINUTE
        )
        none, _ = await graph_times.summary(session, NOON - timedelta(hours=5), NOON)

    assert noon_hour is not None and both is not None and first_minute is not None
    assert (noon_hour.count, failed) == (20, 1)
    assert noon_hour.p95 == pytest.approx(0.1, rel=0.011)  # the 19th of 20 values
    assert noon_hour.most == pytest.approx(7.0)
    assert noon_hour.mean == pytest.approx((19 * 0.1 + 7.0) / 20)
    assert both.count == 21 and first_minute.count == 20
    assert none is None


async def test_prune_drops_old_minutes_only(db: Database) -> None:
    now = NOON + timedelta(days=3)
    await _add(db, [_at(NOON, "send_text", 0.1), _at(now - timedelta(hours=1), "send_text", 0.1)])
    async with db.session() as session:
        gone = await graph_times.prune(session, now)
        await session.commit()
    assert gone == 1
    assert [r.started_at for r in await _rows(db, graph_times.MINUTE)] == [now - timedelta(hours=1)]
    assert len(await _rows(db, graph_times.HOUR)) == 2  # the key figures keep their hours


def test_calls_a_writer_could_not_store_are_held_again_before_newer_ones() -> None:
    """(A fresh ``Held``: the process's own is shared with the servers the tests run.)"""
    held = timings.Held(most=3)
    held.note(timings.Call(1.0, "send_text", 0.1, False))
    taken = held.take()
    held.note(timings.Call(2.0, "send_text", 0.2, True))
    held.give_back(taken)
    assert [(c.seconds, c.failed) for c in held.take()] == [(0.1, False), (0.2, True)]
    for n in range(3):
        held.note(timings.Call(float(n), "send_text", n / 10, False))
    held.give_back(taken)  # no room: the calls given back are let go, the newer kept
    assert [c.at for c in held.take()] == [0.0, 1.0, 2.0]
    for n in range(4):  # past ``most``, the oldest held is let go
        held.note(timings.Call(float(n), "send_text", 0.1, False))
    assert [c.at for c in held.take()] == [1.0, 2.0, 3.0]
