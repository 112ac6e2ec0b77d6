"""Recording outcomes: each kind's columns, only while the claim is ours, UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text, update
from tests.outbox.conftest import WABA_ID, make_lead, recently

from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import Message
from ovenai.outbox import claims, outcomes, queue
from ovenai.outbox.outcomes import Kind, Outcome

pytestmark = pytest.mark.anyio
WORKER = "worker-1"


async def _claimed(db: Database, count: int) -> list[str]:
    """``count`` messages (one per lead) claimed by WORKER, oldest first."""
    for n in range(count):
        lead = await make_lead(db, wrote_at=recently())
        request = queue.OutboundRequest(text=f"m{n}")
        await queue.send_message(
            db, actor=Actor.system(), lead_id=lead.id, request=request, waba_id=WABA_ID, zone=UTC
        )
    async with db.session() as session:
        rows = await claims.claim(session, worker=WORKER, limit=count, ttl_s=30.0, now=utcnow())
        await session.commit()
    return [row.id for row in rows]


async def _messages(db: Database, ids: list[str]) -> list[Message]:
    async with db.session() as session:
        found = {m.id: m for m in await session.scalars(select(Message).where(Message.id.in_(ids)))}
    return [found[message_id] for message_id in ids]


async def test_each_kind_sets_its_columns_and_releases_the_claim(db: Database) -> None:
    sent, retried, failed = await _claimed(db, 3)
    at = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    later = at + timedelta(minutes=5)
    retry = Outcome(
        retried,
        Kind.RETRY,
        at,
        next_attempt_at=later,
        error_code=130429,
        error_title="x" * 400,
        refund=True,
    )
    failure = Outcome(
        failed, Kind.FAILED, at, error_code=131026, error_title="undeliverable", error_detail="gone"
    )
    await outcomes.write(
        db, WORKER, [Outcome(sent, Kind.SENT, at, wa_message_id="w.1"), retry, failure]
    )

    s, r, f = await _messages(db, [sent, retried, failed])
    assert (s.status, s.sent_at, s.wa_message_id, s.error_code) == ("sent", at, "w.1", None)
    assert (r.status, r.next_attempt_at, r.attempts, r.error_code) == ("queued", later, 0, 130429)
    assert r.error_title == "x" * 300
    assert (f.status, f.failed_at, f.error_title, f.error_detail) == (
        "failed",
        at,
        "undeliverable",
        "gone",
    )
    for row in (s, r, f):
        assert (row.claimed_by, row.claimed_until, row.status_at, row.updated_at) == (
            None,
            None,
            at,
            at,
        )


async def test_an_outcome_for_a_claim_another_worker_holds_changes_nothing(db: Database) -> None:
    (message_id,) = await _claimed(db, 1)
    stale = [
        Outcome(message_id, Kind.SENT, utcnow(), wa_message_id="wamid.stale"),
        Outcome(message_id, Kind.FAILED, utcnow(), error_title="stale"),
    ]

    for outcome in stale:
        await outcomes.write(db, "worker-that-lost-its-claim", [outcome])

    (row,) = await _messages(db, [message_id])
    assert (row.status, row.claimed_by, row.wa_message_id, row.error_title) == (
        "sending",
        WORKER,
        None,
        None,
    )


async def test_datetimes_are_stored_exactly_as_the_column_type_stores_them(
    db: Database,
) -> None:
    first, second = await _claimed(db, 2)
    at = datetime(2026, 3, 1, 13, 0, 0, tzinfo=timezone(timedelta(hours=3)))  # 10:00 UTC
    await outcomes.write(db, WORKER, [Outcome(first, Kind.SENT, at, wa_message_id="w.1")])
    async with db.session() as session:  # the same value through SQLAlchemy's own binding
        await session.execute(update(Message).where(Message.id == second).values(sent_at=at))
        await session.commit()
        query = text("SELECT id, sent_at, status_at FROM messages WHERE id IN (:a, :b)")
        stored = {row.id: row for row in await session.execute(query, {"a": first, "b": second})}

    assert stored[first].sent_at == stored[second].sent_at == stored[first].status_at
    if db.dialect == "sqlite":
        assert stored[first].sent_at == "2026-03-01 10:00:00.000000"


async def test_a_naive_datetime_is_refused_and_nothing_is_written(db: Database) -> None:
    (message_id,) = await _claimed(db, 1)
    naive = datetime(2026, 3, 1, 10, 0, 0)

    with pytest.raises(ValueError, match="naive"):
        await outcomes.write(db, WORKER, [Outcome(message_id, Kind.SENT, naive)])

    (row,) = await _messages(db, [message_id])
    assert (row.status, row.claimed_by) == ("sending", WORKER)


async def test_throttles_in_a_row_are_counted_and_anything_meta_answers_otherwise_ends_them(
    db: Database,
) -> None:
    ids = await _claimed(db, 5)
    throttled, faulted, held, sent, failed = ids
    async with db.session() as session:  # each had two throttling answers before this try
        await session.execute(
            update(Message).where(Message.id.in_(ids)).values(throttled_attempts=2)
        )
        await session.commit()
    at = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    later = at + timedelta(seconds=16)

    await outcomes.write(  # the three retries go in one statement, with different values
        db,
        WORKER,
        [
            Outcome(throttled, Kind.RETRY, at, next_attempt_at=later, refund=True, throttled=True),
            Outcome(faulted, Kind.RETRY, at, next_attempt_at=later, error_code=131000),
            Outcome(held, Kind.RETRY, at, next_attempt_at=later, refund=True),  # a limit of ours
            Outcome(sent, Kind.SENT, at, wa_message_id="w.1"),
            Outcome(failed, Kind.FAILED, at, error_code=131026),
        ],
    )

    rows = await _messages(db, ids)
    assert [(row.attempts, row.throttled_attempts) for row in rows] == [
        (0, 3),  # refunded, one more in a row
        (1, 0),  # a fault: counted, the run of throttles over
        (0, 2),  # held without Meta's word on it: as it was
        (1, 0),
        (1, 2),  # failed: kept, as a record
    ]
    async with db.session() as session:  # the next claim carries the count to the job
        claimed = await claims.claim(
            session, worker=WORKER, limit=5, ttl_s=30.0, now=later + timedelta(seconds=1)
        )
        await session.commit()
    jobs = await claims.load_jobs(db.vault, claimed, utcnow())
    assert {job.id: job.throttled_attempts for job in jobs} == {throttled: 3, faulted: 0, held: 2}
