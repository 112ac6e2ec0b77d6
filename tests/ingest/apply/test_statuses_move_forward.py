"""Statuses move an outbound message forward only, keep Meta's errors, and wait for it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects, hooks
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.events import StatusUpdate
from ovenai.ingest.apply import delivery_statuses
from ovenai.ingest.parse.body_parser import parse_webhook
from ovenai.ingest.parse.dedupe_keys import status_key
from ovenai.models import AppliedItem, Lead, Message, StatusEvent
from support.locks import until_waiting

pytestmark = pytest.mark.anyio

T0 = 1767000000


def at(offset: int) -> datetime:
    return datetime.fromtimestamp(T0 + offset, UTC)


async def test_sent_delivered_read_in_order(bodies, harness) -> None:
    await harness.outbound("wamid.O1")
    for offset, status in enumerate(("sent", "delivered", "read")):
        await harness.deliver(bodies.statuses(bodies.status("wamid.O1", status, T0 + offset)))
    message = await harness.message("wamid.O1")
    assert (message.status, message.status_at) == ("read", at(2))
    assert (message.sent_at, message.delivered_at, message.read_at) == (at(0), at(1), at(2))


async def test_it_keeps_read_when_delivered_arrives_late(bodies, harness) -> None:
    await harness.outbound("wamid.O2")
    await harness.deliver(bodies.statuses(bodies.status("wamid.O2", "read", T0 + 5)))
    await harness.deliver(bodies.statuses(bodies.status("wamid.O2", "delivered", T0 + 3)))
    await harness.deliver(bodies.statuses(bodies.status("wamid.O2", "sent", T0 + 1)))
    message = await harness.message("wamid.O2")
    assert message.status == "read"
    assert (message.sent_at, message.delivered_at, message.read_at) == (at(1), at(3), at(5))


async def test_read_implies_delivered(bodies, harness) -> None:
    await harness.outbound("wamid.O3")
    await harness.deliver(bodies.statuses(bodies.status("wamid.O3", "read", T0 + 5)))
    message = await harness.message("wamid.O3")
    assert (message.status, message.delivered_at) == ("read", at(5))


async def test_failed_keeps_metas_error_code_title_and_details(bodies, harness) -> None:
    await harness.outbound("wamid.O4")
    await harness.deliver(bodies.statuses(bodies.status("wamid.O4", "sent", T0)))
    await harness.deliver(bodies.statuses(bodies.status("wamid.O4", "failed", T0 + 1, 131026)))
    message = await harness.message("wamid.O4")
    assert (message.status, message.failed_at) == ("failed", at(1))
    assert (message.error_code, message.error_title, message.error_detail) == (
        131026,
        "error 131026",
        "details of 131026",
    )


async def test_a_recorded_failure_from_a_fixture_keeps_its_error(harness, load_payload) -> None:
    await harness.outbound("wamid.HBgMOTcyNTQxMTEyMjMzFQIAERgSRkFLRU9VVEJPVU5EMDAwMDA5")
    await harness.deliver(load_payload("status_failed_131026.json"))
    message = await harness.message("wamid.HBgMOTcyNTQxMTEyMjMzFQIAERgSRkFLRU9VVEJPVU5EMDAwMDA5")
    assert message.status == "failed" and message.error_code == 131026


async def test_failed_after_delivered_keeps_delivered_but_records_the_error(
    bodies, harness
) -> None:
    await harness.outbound("wamid.O5")
    await harness.deliver(bodies.statuses(bodies.status("wamid.O5", "delivered", T0)))
    await harness.deliver(bodies.statuses(bodies.status("wamid.O5", "failed", T0 + 1, 131000)))
    message = await harness.message("wamid.O5")
    assert (message.status, message.error_code) == ("delivered", 131000)


async def test_delivery_after_failed_wins_and_keeps_the_error(bodies, harness) -> None:
    await harness.outbound("wamid.O6")
    await harness.deliver(bodies.statuses(bodies.status("wamid.O6", "failed", T0, 131026)))
    await harness.deliver(bodies.statuses(bodies.status("wamid.O6", "delivered", T0 + 9)))
    message = await harness.message("wamid.O6")
    assert (message.status, message.error_code) == ("delivered", 131026)


async def test_a_status_for_an_unknown_message_is_applied_when_it_appears(bodies, harness) -> None:
    report = await harness.deliver(bodies.statuses(bodies.status("wamid.LATE", "delivered", T0)))
    assert report.failed == 0
    await harness.outbound("wamid.LATE")
    await harness.processor.apply_waiting_statuses()
    message = await harness.message("wamid.LATE")
    assert (message.status, message.delivered_at) == ("delivered", at(0))


async def test_one_body_with_many_statuses_applies_them_all(bodies, harness) -> None:
    wamids = [f"wamid.M{n}" for n in range(30)]
    for wamid in wamids:
        await harness.outbound(wamid)
    items = [bodies.status(w, s, T0 + i) for w in wamids for i, s in enumerate(("sent", "read"))]
    await harness.deliver(bodies.statuses(*items))
    for wamid in wamids:
        assert (await harness.message(wamid)).status == "read"


async def test_only_statuses_waiting_past_the_limit_are_pruned_with_their_keys(
    db: Database,
) -> None:
    now = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    edge = now - delivery_statuses.WAITING_LIMIT
    waiting = {  # wamid: (applied, received_at)
        "wamid.stale_1": (False, edge - timedelta(seconds=1)),
        "wamid.staleX1": (False, edge),  # waited exactly the limit: kept
        "wamid.fresh": (False, now),
        "wamid.applied": (True, edge - timedelta(days=3)),
    }
    async with db.session() as session:
        for wamid, (applied, at) in waiting.items():
            for status in ("sent", "delivered"):
                session.add(
                    StatusEvent(
                        wa_message_id=wamid, status=status, at=at, received_at=at, applied=applied
                    )
                )
                session.add(AppliedItem(dedupe_key=status_key(wamid, status), applied_at=at))
        await session.commit()
    async with db.session() as session:
        assert await delivery_statuses.prune_waiting(session, now=now) == 2
        await session.commit()
    async with db.session() as session:
        left = set(await session.scalars(select(StatusEvent.wa_message_id)))
        keys = set(await session.scalars(select(AppliedItem.dedupe_key)))
    assert left == {"wamid.staleX1", "wamid.fresh", "wamid.applied"}
    # "_" in the pruned wamid is not a wildcard: the key of "wamid.staleX1" stays.
    assert keys == {status_key(w, s) for w in left for s in ("sent", "delivered")}
    async with db.session() as session:
        assert await delivery_statuses.prune_waiting(session, now=now) == 0


async def test_a_voice_note_played_says_it_was_delivered_and_read(bodies, harness) -> None:
    """Meta may send only "played" for a voice note: it was delivered and heard (read)."""
    await harness.outbound("wamid.V1")
    await harness.deliver(bodies.statuses(bodies.status("wamid.V1", "played", T0 + 7)))
    message = await harness.message("wamid.V1")
    assert (message.status, message.delivered_at, message.read_at) == ("played", at(7), at(7))


async def test_a_status_naming_an_inbound_message_changes_nothing(bodies, harness) -> None:
    """Statuses are of our messages: a wamid the lead sent is never given one."""
    await harness.deliver(bodies.text("wamid.IN1", "שלום"))
    before = await harness.message("wamid.IN1")
    await harness.deliver(bodies.statuses(bodies.status("wamid.IN1", "read", T0 + 9)))
    after = await harness.message("wamid.IN1")
    assert (after.direction, after.status, after.read_at) == ("inbound", before.status, None)


async def test_statuses_waiting_for_another_message_keep_waiting(bodies, harness, db) -> None:
    """Applying one message's statuses leaves another's, still unknown, waiting for it."""
    await harness.deliver(bodies.statuses(bodies.status("wamid.W2", "delivered", T0)))
    await harness.outbound("wamid.W1")
    await harness.deliver(bodies.statuses(bodies.status("wamid.W1", "read", T0 + 1)))
    async with db.session() as session:
        waiting = await session.scalar(
            select(StatusEvent.applied).where(StatusEvent.wa_message_id == "wamid.W2")
        )
    assert waiting is False
    await harness.outbound("wamid.W2")
    await harness.processor.apply_waiting_statuses()
    assert (await harness.message("wamid.W2")).status == "delivered"


async def test_a_thousand_statuses_are_recorded_once_and_pruned_in_chunks(bodies, db) -> None:
    """Over two chunks of 500: each status recorded once, each waiting one pruned, counted."""
    items = [bodies.status(f"wamid.C{n:04d}", "delivered", T0) for n in range(1001)]
    updates = [i for i in parse_webhook(bodies.statuses(*items)) if isinstance(i, StatusUpdate)]
    assert len(updates) == 1001
    async with db.session() as session:
        assert await delivery_statuses.record_statuses(session, updates) == 1001
        assert await delivery_statuses.record_statuses(session, updates) == 0
        await session.commit()
    later = datetime.now(UTC) + delivery_statuses.WAITING_LIMIT + timedelta(minutes=1)
    async with db.session() as session:
        assert await delivery_statuses.prune_waiting(session, now=later) == 1001
        await session.commit()
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(StatusEvent)) == 0


async def test_the_status_hooks_are_told_metas_error_code(bodies, harness) -> None:
    """Consent reads 131050 from a failed status through the status hooks."""
    seen: list[tuple[str, str, int | None]] = []

    async def record(session, changes) -> None:  # type: ignore[no-untyped-def]
        seen.extend((c.wa_message_id, c.status, c.error_code) for c in changes)

    hooks.after_status.append(record)
    try:
        await harness.outbound("wamid.E1")
        await harness.deliver(bodies.statuses(bodies.status("wamid.E1", "failed", T0, 131050)))
    finally:
        hooks.after_status.remove(record)
    assert ("wamid.E1", "failed", 131050) in seen


@pytest.mark.parametrize(
    ("error", "title"),
    [
        ({"code": 131000, "message": "Something went wrong"}, "Something went wrong"),
        ({"code": 131000}, ""),
        ({"code": 131000, "title": "t" * 400, "message": "m"}, "t" * 300),
    ],
)
async def test_an_error_s_title_falls_back_to_its_message_and_is_cut_at_300(
    bodies, harness, error, title
) -> None:
    wamid = f"wamid.T{len(title)}"
    await harness.outbound(wamid)
    item = bodies.status(wamid, "failed", T0)
    item["errors"] = [error]
    await harness.deliver(bodies.statuses(item))
    message = await harness.message(wamid)
    assert (message.status, message.error_code, message.error_title) == ("failed", 131000, title)


async def test_a_status_meta_does_not_rank_moves_nothing(bodies, harness) -> None:
    """On-Premises' "deleted" and "warning" (and any status not known) never move a message."""
    await harness.outbound("wamid.U1")
    await harness.deliver(bodies.statuses(bodies.status("wamid.U1", "sent", T0)))
    await harness.deliver(bodies.statuses(bodies.status("wamid.U1", "warning", T0 + 5)))
    message = await harness.message("wamid.U1")
    assert (message.status, message.status_at) == ("sent", at(0))


def status_updates(raw: bytes) -> list[StatusUpdate]:
    return [item for item in parse_webhook(raw) if isinstance(item, StatusUpdate)]


async def test_a_status_name_longer_than_its_column_is_recorded_cut_once(bodies, db) -> None:
    """status_events.status holds 16 characters (PostgreSQL refuses more): a longer name (one
    Meta may add) is cut to them, and names alike in those 16 are one status, recorded once."""
    names = ("delivered_to_all_devices", "delivered_to_allowed")  # "delivered_to_all" + more
    items = [bodies.status("wamid.LONG", name, T0 + n) for n, name in enumerate(names)]
    updates = status_updates(bodies.statuses(*items))
    async with db.session() as session:
        assert await delivery_statuses.record_statuses(session, updates) == 1
        assert await delivery_statuses.record_statuses(session, updates) == 0
        await session.commit()
    async with db.session() as session:
        recorded = list(await session.scalars(select(StatusEvent.status)))
    assert recorded == ["delivered_to_all"]


async def test_statuses_applied_to_their_message_are_not_pruned(bodies, harness, db) -> None:
    """Only statuses still waiting for their message are pruned: applied ones are marked so,
    no sweep applies them again, and they stay past the limit (they keep a re-send out)."""
    await harness.outbound("wamid.K1")
    sent, delivered = (
        bodies.status("wamid.K1", s, T0 + n) for n, s in enumerate(("sent", "delivered"))
    )
    await harness.deliver(bodies.statuses(sent, delivered))
    async with db.session() as session:
        marks = dict((await session.execute(select(StatusEvent.status, StatusEvent.applied))).all())
        assert marks == {"sent": True, "delivered": True}
        assert (await delivery_statuses.apply_waiting(session)).leads == {}
    later = datetime.now(UTC) + delivery_statuses.WAITING_LIMIT + timedelta(minutes=1)
    async with db.session() as session:
        assert await delivery_statuses.prune_waiting(session, now=later) == 0
        await session.commit()
    async with db.session() as session:
        kept = set(await session.scalars(select(StatusEvent.status)))
    assert kept == {"sent", "delivered"}


async def test_a_wamid_s_status_still_within_the_limit_keeps_waiting(db) -> None:
    """Pruning goes by each status's own wait: a wamid's old status goes, its recent one stays."""
    now = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    old = now - delivery_statuses.WAITING_LIMIT - timedelta(minutes=1)
    async with db.session() as session:
        for status, received in (("sent", old), ("delivered", now)):
            session.add(
                StatusEvent(
                    wa_message_id="wamid.MIX", status=status, at=received, received_at=received
                )
            )
        await session.commit()
    async with db.session() as session:
        assert await delivery_statuses.prune_waiting(session, now=now) == 1
        await session.commit()
    async with db.session() as session:
        left = (await session.execute(select(StatusEvent.status, StatusEvent.applied))).all()
    assert [tuple(row) for row in left] == [("delivered", False)]


def appearing(session: AsyncSession, wamids: list[str]) -> None:
    """Outbound messages with these wamids, in this session's transaction only: no other
    processor (the session's server sweeps too) sees them before the test's own calls."""
    lead = Lead(id=new_id(), source="manual")
    session.add(lead)
    for wamid in wamids:
        session.add(
            Message(
                id=new_id(),
                lead_id=lead.id,
                direction="outbound",
                type="text",
                wa_message_id=wamid,
                status="sending",
                status_at=utcnow(),
            )
        )


async def test_a_batch_moves_only_its_own_messages(bodies, harness, db) -> None:
    """A status waiting for a message that has since appeared is applied by the sweep
    (apply_waiting), not by a batch of other statuses: the batch's hooks hear of its own."""
    await harness.deliver(bodies.statuses(bodies.status("wamid.B1", "delivered", T0)))
    async with db.session() as session:
        appearing(session, ["wamid.A1", "wamid.B1"])
        await session.flush()
        updates = status_updates(bodies.statuses(bodies.status("wamid.A1", "read", T0 + 1)))
        batch = await delivery_statuses.apply_statuses(session, updates)
        assert [(c.wa_message_id, c.status) for c in batch.changes] == [("wamid.A1", "read")]
        assert set(batch.leads) == {"wamid.A1"}
        waiting = await delivery_statuses.apply_waiting(session)
        assert [(c.wa_message_id, c.status) for c in waiting.changes] == [("wamid.B1", "delivered")]
        await session.commit()
    assert (await harness.message("wamid.B1")).status == "delivered"


async def test_a_sweep_applies_at_most_its_limit_of_waiting_messages(bodies, harness, db) -> None:
    """apply_waiting takes `limit` waiting wamids a call; the next call takes the rest."""
    wamids = [f"wamid.Q{n}" for n in range(3)]
    await harness.deliver(bodies.statuses(*(bodies.status(w, "sent", T0) for w in wamids)))
    async with db.session() as session:
        appearing(session, wamids)
        await session.flush()
        first = await delivery_statuses.apply_waiting(session, limit=2)
        second = await delivery_statuses.apply_waiting(session, limit=2)
        assert (len(first.changes), len(second.changes)) == (2, 1)
        swept = [c.wa_message_id for c in (*first.changes, *second.changes)]
        assert sorted(swept) == wamids
        await session.commit()


async def test_metas_sent_after_ours_restamps_sent_at_but_not_the_status(
    bodies, harness, db
) -> None:
    """The outbox marks a message sent when Meta accepts it; Meta's own "sent" ranks no higher,
    so the status and its time stay ours, and only sent_at takes Meta's time."""
    await harness.outbound("wamid.S1")
    accepted = at(-2)
    async with db.session() as session:
        await session.execute(
            update(Message)
            .where(Message.wa_message_id == "wamid.S1")
            .values(status="sent", status_at=accepted, sent_at=accepted)
        )
        await session.commit()
    await harness.deliver(bodies.statuses(bodies.status("wamid.S1", "sent", T0)))
    message = await harness.message("wamid.S1")
    assert (message.status, message.status_at, message.sent_at) == ("sent", accepted, at(0))


async def test_a_thousand_messages_in_one_batch_all_move(bodies, db) -> None:
    """Over two chunks of 500 messages and a third of one, the batch itself re-derives every
    message: its hooks hear of each change, and each wamid's lead is known (to link the body
    to it), none left to the sweep."""
    wamids = [f"wamid.D{n:04d}" for n in range(1001)]
    items = [bodies.status(w, "delivered", T0) for w in wamids]
    reads: list[str] = []

    def keep(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        if sql.startswith("SELECT messages.id, messages.lead_id, messages.wa_message_id"):
            reads.append(sql)

    async with db.session() as session:
        appearing(session, wamids)
        await session.flush()
        event.listen(db.engine.sync_engine, "before_cursor_execute", keep)
        try:
            batch = await delivery_statuses.apply_statuses(
                session, status_updates(bodies.statuses(*items))
            )
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", keep)
        assert len(reads) == 3, "the messages read 500 wamids a query"
        assert sorted(c.wa_message_id for c in batch.changes) == wamids
        assert sorted(batch.leads) == wamids
        moved = select(func.count()).where(Message.status == "delivered")
        assert await session.scalar(moved) == 1001
        await session.commit()


async def test_a_batch_that_read_the_message_before_another_moved_it_does_not_undo_that(
    db: Database, bodies, harness
) -> None:
    """Two processes apply statuses of one message at once (workers on PostgreSQL): the
    one that commits last must not write back the state it derived before the other
    committed (a lost update left campaign messages "delivered" after their "read")."""
    if not dialects.is_postgresql(db.engine.dialect):
        pytest.skip("SQLite applies one transaction at a time (BEGIN IMMEDIATE)")
    await harness.outbound("wamid.RACE")
    read = status_updates(bodies.statuses(bodies.status("wamid.RACE", "read", T0 + 5)))
    delivered = status_updates(bodies.statuses(bodies.status("wamid.RACE", "delivered", T0 + 3)))

    async def apply(updates: list[StatusUpdate]) -> None:
        async with db.session() as session:
            await delivery_statuses.apply_statuses(session, updates)
            await session.commit()

    async with db.engine.connect() as holder:  # another writer holds the message's row
        await holder.execute(
            select(Message.id).where(Message.wa_message_id == "wamid.RACE").with_for_update()
        )
        reading = asyncio.create_task(apply(read))
        await until_waiting(db, 1)  # "read" queues first for the row ...
        delivering = asyncio.create_task(apply(delivered))
        await until_waiting(db, 2)  # ... then "delivered", having read the message as "sent"
        await holder.commit()
    await asyncio.gather(reading, delivering)
    message = await harness.message("wamid.RACE")
    assert (message.status, message.delivered_at, message.read_at) == ("read", at(3), at(5))
