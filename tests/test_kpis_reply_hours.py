"""The reply rate from the reply marks kept by hour (ovenai.reply_hours): a period's leads
written to and replied equal the straightforward count from the messages and the scan of
the period's marks, over periods with partial hours at their edges, ending before now,
now or later, after new messages, a late "sent" status, erasure and retention; the whole
report equal to the one counted by scanning the marks; ``reply_mark_hours`` always the
sums of the marks there are, whoever wrote or deleted them. On both databases."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, select
from tests.test_kpis_turns import ADMIN, END, START, _conversations, _live_leads_and_written

from ovenai import kept_hours, kpis, privacy, reply_hours, response_turns, retention
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.models import Direction, Message, ReplyMark, ReplyMarkHour, StatusEvent

pytestmark = pytest.mark.anyio
HOUR = timedelta(hours=1)


def _periods(seed: int) -> list[tuple[datetime, datetime]]:
    """Whole-hour and partial-hour periods from an hour to ten days, around the data."""
    rng = random.Random(seed)
    periods = [
        (START, END),
        (START + timedelta(minutes=17, seconds=3), END - timedelta(minutes=23)),
        (START + timedelta(days=2, minutes=5), START + timedelta(days=2, minutes=50)),
        (START - timedelta(days=30), END + timedelta(days=30)),
    ]
    for _ in range(12):
        start = START + timedelta(minutes=rng.randrange(-3 * 24 * 60, 9 * 24 * 60))
        if rng.random() < 0.5:
            start = kept_hours.hour_of(start)
        periods.append((start, start + timedelta(minutes=rng.randrange(60, 10 * 24 * 60))))
    return periods


async def _definition(db: Database, start: datetime, end: datetime) -> tuple[int, int]:
    """The reply rate's counts from the messages (docs/architecture.md "Key figures")."""
    async with db.session() as session:
        messages = list(await session.scalars(select(Message)))
    first_out: dict[str, datetime] = {}
    for m in messages:
        if m.direction == Direction.OUTBOUND and m.sent_at and start <= m.sent_at < end:
            first_out[m.lead_id] = min(first_out.get(m.lead_id, m.sent_at), m.sent_at)
    replied = {
        m.lead_id
        for m in messages
        if m.direction == Direction.INBOUND
        and start <= m.created_at < end
        and m.lead_id in first_out
        and m.created_at > first_out[m.lead_id]
    }
    return len(first_out), len(replied)


async def _assert_hours_are_the_marks(db: Database) -> None:
    """``reply_mark_hours`` holds the sums of the marks there are (zero rows aside)."""
    async with db.session() as session:
        marks = list(
            await session.execute(select(ReplyMark.kind, ReplyMark.at, ReplyMark.previous_at))
        )
        kept = list(await session.scalars(select(ReplyMarkHour)))
    expected: Counter[tuple[str, datetime, str]] = Counter()
    for kind, at, previous_at in marks:
        expected[(kind, kept_hours.hour_of(at), "marks")] += 1
        if previous_at is not None:
            expected[(kind, kept_hours.hour_of(previous_at), "next")] += 1
    found: Counter[tuple[str, datetime, str]] = Counter()
    for row in kept:
        found[(row.kind, row.hour, "marks")] += row.marks
        found[(row.kind, row.hour, "next")] += row.next_marks
    assert +found == expected  # unary plus: without the hours counted down to zero
    assert all(count >= 0 for count in found.values())


async def _assert_counts_are_the_definitions(
    db: Database, monkeypatch: pytest.MonkeyPatch, seed: int, *, all_kept: bool = True
) -> None:
    """Every period's counts as the report takes them (the leads written since the job's
    run live) equal the definition's; those of the kept marks from the hours (as if now
    were before its end, just after, or long after: the marks after its end are read, or
    it is scanned) equal the scan of the period's kept marks, and the definition's when
    every lead is kept."""
    for start, end in _periods(seed):
        expected = await _definition(db, start, end)
        async with db.session() as session:
            kept = await reply_hours.scanned(session, start, end)
        if all_kept:
            assert kept == expected
        length = end - start
        for now in (end - HOUR, end + timedelta(minutes=1), end + length / 2, end + 2 * length):
            with monkeypatch.context() as clock:
                clock.setattr(reply_hours, "utcnow", lambda now=now: now)
                async with db.session() as session:
                    found = await reply_hours.counts(session, start, end)
                    assert found == kept, (start, end, now)
                    assert (await response_turns.in_period(session, start, end)).replies == expected


async def _assert_report_is_the_scanned_one(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole report (its reply counts from the hours: now is before the periods' end)
    equals the one whose reply counts scan the period's marks."""
    for start, end in ((START, END), (START + timedelta(minutes=30), END + timedelta(days=2))):
        with monkeypatch.context() as clock:
            clock.setattr(reply_hours, "utcnow", lambda: START)
            found = asdict(await kpis.report(db, actor=ADMIN, start=start, end=end))
        with monkeypatch.context() as scanning:
            scanning.setattr(reply_hours, "counts", reply_hours.scanned)
            scanned = asdict(await kpis.report(db, actor=ADMIN, start=start, end=end))
        assert found == scanned
        assert (found["leads_written"], found["leads_replied"]) == await _definition(db, start, end)


async def test_reply_counts_from_the_hours_are_the_definitions(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(response_turns, "GRACE", timedelta(0))
    leads = await _conversations(db, leads=40, seed=21, around=START + timedelta(days=2))
    leads += await _conversations(db, leads=20, seed=22, around=START + timedelta(days=5))
    await response_turns.refresh(db)  # the first run: every lead's marks
    await _assert_hours_are_the_marks(db)
    async with db.session() as session:
        assert await session.scalar(select(ReplyMarkHour.kind)) is not None
    await _assert_counts_are_the_definitions(db, monkeypatch, seed=1)
    await _assert_report_is_the_scanned_one(db, monkeypatch)

    # More messages for kept leads (one dated before messages already counted, as a late
    # webhook is), and a "sent" status arriving late: it restamps a message with Meta's
    # earlier time, so the lead's marks change, and the job counts the lead again.
    async with db.session() as session:
        session.add_all(
            [
                Message(
                    lead_id=leads[0],
                    direction=Direction.INBOUND,
                    type="text",
                    status="received",
                    created_at=START + timedelta(days=6),
                ),
                Message(
                    lead_id=leads[1],
                    direction=Direction.INBOUND,
                    type="text",
                    status="received",
                    created_at=START + timedelta(days=1, hours=3),
                ),
            ]
        )
        ours = await session.scalars(
            select(Message).where(
                Message.lead_id == leads[2],
                Message.direction == Direction.OUTBOUND,
                Message.sent_at.is_not(None),
            )
        )
        late = ours.first()
        assert late is not None
        assert late.sent_at is not None
        late.wa_message_id, late.sent_at = "wamid.late-sent", late.sent_at - timedelta(days=2)
        await session.flush()
        session.add(
            StatusEvent(
                wa_message_id="wamid.late-sent", status="sent", at=late.sent_at, applied=True
            )
        )
        await session.commit()
    # Before the job's run: those leads counted live, the others from the hours.
    assert {leads[0], leads[1], leads[2]} <= await _live_leads_and_written(db)
    await _assert_counts_are_the_definitions(db, monkeypatch, seed=2, all_kept=False)
    await _assert_report_is_the_scanned_one(db, monkeypatch)
    assert (await response_turns.refresh(db)).leads >= 3
    await _assert_hours_are_the_marks(db)
    await _assert_counts_are_the_definitions(db, monkeypatch, seed=3)

    # Erased leads keep their (blanked) messages, so their marks and the hours stay.
    for lead_id in leads[3:6]:
        await privacy.erase_lead(db, actor=Actor.system(), lead_id=lead_id)
    await response_turns.refresh(db)
    await _assert_hours_are_the_marks(db)
    await _assert_counts_are_the_definitions(db, monkeypatch, seed=4)
    await _assert_report_is_the_scanned_one(db, monkeypatch)

    # Retention deletes the oldest messages: their marks go by the cascade, and the hours
    # with them; the leads it took messages from are counted live, then again by the job.
    policy = retention.Policy(
        conversations=timedelta(days=2),
        webhook_logs=timedelta(days=400),
        audit=timedelta(days=400),
        lead_grace=timedelta(days=400),
    )
    deleted = await retention.run(db, policy=policy, now=START + timedelta(days=4))
    assert deleted["messages"] > 0
    await _assert_hours_are_the_marks(db)
    await _assert_counts_are_the_definitions(db, monkeypatch, seed=5, all_kept=False)
    await response_turns.refresh(db)
    await _assert_hours_are_the_marks(db)
    await _assert_counts_are_the_definitions(db, monkeypatch, seed=6)
    await _assert_report_is_the_scanned_one(db, monkeypatch)


async def test_the_hours_follow_every_write_of_the_marks(db: Database) -> None:
    """Whoever writes: an update of marks moves their counts, a delete takes them."""
    await _conversations(db, leads=8, seed=31, around=START + timedelta(days=1))
    await response_turns.refresh(db)
    await _assert_hours_are_the_marks(db)
    async with db.session() as session:
        for n, mark in enumerate(await session.scalars(select(ReplyMark))):
            if n % 2:
                mark.at += timedelta(hours=5)
            else:
                mark.previous_at = None
        await session.commit()
    await _assert_hours_are_the_marks(db)
    async with db.session() as session:
        await session.execute(delete(ReplyMark).where(ReplyMark.kind == reply_hours.REPLIED))
        await session.commit()
    await _assert_hours_are_the_marks(db)
