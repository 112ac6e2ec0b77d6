"""Nothing stored is lost: a crash between store and process, a poison body, a dead lease."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from ovenai.columns import utcnow
from ovenai.ingest import backlog
from ovenai.models import WebhookEvent

pytestmark = pytest.mark.anyio


async def test_bodies_stored_before_a_crash_are_processed_by_the_next_process(
    bodies, harness
) -> None:
    kept = [await harness.keep(bodies.text(f"wamid.K{n}", "שלום")) for n in range(5)]
    # Stored, then "the process died"; a fresh processor (start-up or worker) takes them. The
    # session's live server may take some first: judged by what is stored, not by a report.
    assert {event.status for event in await harness.events()} <= {"pending", "processed"}
    await harness.settle(kept)
    assert {event.status for event in await harness.events()} == {"processed"}
    (lead,) = await harness.leads()
    assert len(await harness.conversation(lead.id)) == 5


async def test_a_poison_body_fails_alone_and_keeps_its_error(bodies, harness) -> None:
    first = await harness.keep(bodies.text("wamid.G1", "hi"))
    poison = await harness.keep(b'{"object": "whatsapp_business_account", "entry": 5}')
    last = await harness.keep(bodies.text("wamid.G2", "hi"))
    # Judged by what is stored: the session's live server may apply some of them first.
    await harness.settle([first, poison, last])
    states = {event.id: (event.status, event.error) for event in await harness.events()}
    assert set(states) >= {first, poison, last}
    status, error = states.pop(poison)
    assert status == "failed" and "MalformedPayload" in (error or "")
    assert {status for status, _ in states.values()} == {"processed"}


async def test_a_leased_body_waits_until_its_lease_expires(bodies, harness, db) -> None:
    event_id = await harness.keep(bodies.text("wamid.LEASE", "hi"))
    async with db.session() as session:
        assert await backlog.lease_one(session, event_id) is not None  # then that process died
        await session.commit()
    assert (await harness.processor.drain()).processed == 0
    async with db.session() as session:
        past = utcnow() - timedelta(seconds=1)
        await session.execute(update(WebhookEvent).values(claimed_until=past))
        await session.commit()
    assert (await harness.processor.drain()).processed == 1


async def test_the_in_process_task_processes_after_each_store(bodies, harness) -> None:
    harness.store.on_stored = harness.processor.wake
    harness.processor.start()
    try:
        await harness.keep(bodies.text("wamid.WAKE", "hi"))
        for _ in range(200):
            if {event.status for event in await harness.events()} == {"processed"}:
                break
            await asyncio.sleep(0.02)
        assert {event.status for event in await harness.events()} == {"processed"}
    finally:
        await harness.processor.stop()
