"""Statuses move an outbound message forward only, keep Meta's errors, and wait for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ovenai import hooks
from ovenai.db import Database
from ovenai.events import StatusUpdate
from ovenai.ingest.apply import delivery_statuses
from ovenai.ingest.parse.body_parser import parse_webhook
from ovenai.ingest.parse.dedupe_keys import status_key
from ovenai.models import AppliedItem, StatusEvent

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
