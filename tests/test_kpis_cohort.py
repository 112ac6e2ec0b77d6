"""The outbound cohort and webhook processing times from kept hourly counts
(ovenai.cohort_hours, ovenai.webhook_hours): the whole report, and the daily chart, equal
to the ones counted live from the messages and bodies, over periods with partial hours at
their edges, after new messages, status changes (a "sent" status restamping a message
into another hour among them), bodies applied late, retention and erasure. On both
databases."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.test_kpis_turns import (
    ADMIN,
    END,
    ERRORS,
    START,
    _assert_report_matches_the_definitions,
    _conversations,
)

from ovenai import (
    cohort_hours,
    kept_hours,
    kpis,
    privacy,
    retention,
    scheduler,
    webhook_hours,
    worker,
)
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import (
    CohortHour,
    CohortHoursStale,
    Direction,
    Message,
    StatusEvent,
    WebhookHour,
    WebhookHoursStale,
)
from ovenai.models.webhooks import WebhookEvent

pytestmark = pytest.mark.anyio
PERIODS = [
    (START, END),  # whole hours only
    (START + timedelta(minutes=17, seconds=3), END - timedelta(minutes=23)),  # partial edges
    (START + timedelta(days=2, minutes=5), START + timedelta(days=2, minutes=50)),  # in an hour
    (START + timedelta(days=1, hours=5, minutes=30), START + timedelta(days=2, hours=7)),
    (START - timedelta(days=30), END + timedelta(days=30)),
]


async def _live(db: Database, start: datetime, end: datetime) -> dict[str, Any]:
    """The report with the cohort counted from the messages alone, as before the job."""

    async def no_hours_kept(_session: Any) -> cohort_hours.Kept:
        return cohort_hours.Kept(None)

    async def no_times_kept(_session: Any) -> webhook_hours.Kept:
        return webhook_hours.Kept(None)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cohort_hours, "kept", no_hours_kept)
        patch.setattr(webhook_hours, "kept", no_times_kept)
        found = asdict(await kpis.report(db, actor=ADMIN, start=start, end=end))
        found["daily"] = await kpis.daily(db, actor=ADMIN, start=start, end=end, zone=UTC)
    return found


async def _assert_kept_equals_live(db: Database) -> None:
    for start, end in PERIODS:
        found = asdict(await kpis.report(db, actor=ADMIN, start=start, end=end))
        found["daily"] = await kpis.daily(db, actor=ADMIN, start=start, end=end, zone=UTC)
        assert found == await _live(db, start, end), (start, end)
    await _assert_report_matches_the_definitions(db)


async def _touched(db: Database) -> frozenset[datetime] | None:
    async with db.session() as session:
        return (await cohort_hours.kept(session)).touched


async def _touched_bodies(db: Database) -> frozenset[datetime] | None:
    async with db.session() as session:
        return (await webhook_hours.kept(session)).touched


async def _kept_rows(db: Database, table: Any = CohortHour) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def _refresh(db: Database) -> int:
    """Both jobs' runs; how many hours they counted."""
    return await cohort_hours.refresh(db) + await webhook_hours.refresh(db)


def _no_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """No grace for slow transactions: hours changed before the job's run are read kept."""
    monkeypatch.setattr(kept_hours, "GRACE", timedelta(0))


async def test_the_report_from_kept_hours_equals_the_live_one(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    leads = await _conversations(db, leads=40, seed=21, around=START + timedelta(days=2))
    assert await _touched(db) is None  # never counted: all live
    await _assert_kept_equals_live(db)

    assert await _refresh(db) > 0  # the first run counts every hour
    assert await _kept_rows(db) > 0 and await _kept_rows(db, WebhookHour) > 0
    assert await _touched(db)  # written within the grace before the run: live
    await _assert_kept_equals_live(db)
    _no_grace(monkeypatch)
    assert await _refresh(db) == 0  # nothing written since
    assert await _touched(db) == frozenset() and await _touched_bodies(db) == frozenset()
    await _assert_kept_equals_live(db)  # all kept but the edges

    # New conversations; statuses moving kept messages between outcomes; a "sent" status
    # restamping a message with Meta's time, an hour earlier (out of its kept hour).
    await _conversations(db, leads=8, seed=22, around=START + timedelta(days=4))
    async with db.session() as session:
        sent = await session.scalars(
            select(Message).where(Message.status == "sent", Message.lead_id.in_(leads)).limit(8)
        )
        for n, message in enumerate(sent):
            message.status = ("read", "delivered", "failed")[n % 3]
            if message.status == "failed":
                message.error_code, message.error_title = 131049, ERRORS[131049]
                message.failed_at = START + timedelta(days=5)
        ours = await session.scalars(
            select(Message).where(
                Message.lead_id.in_(leads),
                Message.direction == Direction.OUTBOUND,
                Message.sent_at >= START + timedelta(days=1, hours=1, minutes=30),
            )
        )
        moved = next(iter(ours))
        assert moved.sent_at is not None
        moved.wa_message_id = "wamid.restamped"
        moved.sent_at -= timedelta(hours=1, minutes=1)
        await session.flush()
        session.add(
            StatusEvent(
                wa_message_id="wamid.restamped", status="sent", at=moved.sent_at, applied=True
            )
        )
        # A body of a kept hour applied only now (a retry), one received and not applied.
        late = await session.scalar(select(WebhookEvent).order_by(WebhookEvent.id).limit(1))
        assert late is not None
        late.processed_at = utcnow()
        session.add(
            WebhookEvent(received_at=START + timedelta(days=3), key_bucket="k", body_size=1)
        )
        await session.commit()
    touched = await _touched(db)
    assert touched and cohort_hours.hour_of(moved.sent_at + timedelta(hours=1, minutes=1)) in (
        touched
    )
    await _assert_kept_equals_live(db)  # the touched hours live, the rest kept

    assert await _touched_bodies(db)
    await _assert_kept_equals_live(db)

    assert await _refresh(db) > 0
    assert await _touched(db) == frozenset() and await _touched_bodies(db) == frozenset()
    await _assert_kept_equals_live(db)

    # Erased leads keep their (blanked) messages, so their outcomes.
    for lead_id in leads[:3]:
        await privacy.erase_lead(db, actor=Actor.system(), lead_id=lead_id)
    await _assert_kept_equals_live(db)
    await _refresh(db)
    await _assert_kept_equals_live(db)


async def test_retention_leaves_the_hours_it_took_messages_from_to_be_counted_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_grace(monkeypatch)
    await _conversations(db, leads=30, seed=23, around=START + timedelta(days=1))
    await _refresh(db)
    assert await _touched(db) == frozenset()
    policy = retention.Policy(
        conversations=timedelta(days=2),
        webhook_logs=timedelta(days=2),
        audit=timedelta(days=400),
        lead_grace=timedelta(days=400),
    )

    deleted = await retention.run(db, policy=policy, now=START + timedelta(days=3))

    assert deleted["messages"] > 0
    async with db.session() as session:
        stale = set(await session.scalars(select(CohortHoursStale.hour)))
    assert stale and stale <= (await _touched(db) or set())
    assert deleted["webhook_events"] > 0
    async with db.session() as session:
        stale_bodies = set(await session.scalars(select(WebhookHoursStale.hour)))
    assert stale_bodies and stale_bodies <= (await _touched_bodies(db) or set())
    await _assert_kept_equals_live(db)  # the stale hours counted live

    await _refresh(db)

    async with db.session() as session:
        assert list(await session.scalars(select(CohortHoursStale.hour))) == []
        assert list(await session.scalars(select(WebhookHoursStale.hour))) == []
    assert await _touched(db) == frozenset() and await _touched_bodies(db) == frozenset()
    await _assert_kept_equals_live(db)


async def test_the_worker_keeps_the_cohort_every_minute(db: Database) -> None:
    job = scheduler.REGISTRY["kpis.cohort"]
    assert job.func is worker.count_cohort
    assert job.interval_s == cohort_hours.EVERY_S
    await _conversations(db, leads=3, seed=24, around=START + timedelta(days=1))

    await worker.count_cohort(scheduler.JobContext(db=db, settings=None))  # type: ignore[arg-type]

    assert await _kept_rows(db) > 0
    job = scheduler.REGISTRY["kpis.webhooks"]
    assert job.func is worker.count_webhook_times
    assert job.interval_s == webhook_hours.EVERY_S

    await worker.count_webhook_times(scheduler.JobContext(db=db, settings=None))  # type: ignore[arg-type]

    assert await _kept_rows(db, WebhookHour) > 0


def test_hours_are_utc_and_ranges_merge() -> None:
    at = datetime(2026, 11, 1, 3, 59, 59, 999999, tzinfo=UTC)
    assert cohort_hours.hour_of(at) == datetime(2026, 11, 1, 3, tzinfo=UTC)
    hours = [START + timedelta(hours=n) for n in (0, 1, 2, 5, 7, 6)]
    assert cohort_hours.hour_ranges(hours) == [
        (START, START + timedelta(hours=3)),
        (START + timedelta(hours=5), START + timedelta(hours=8)),
    ]
