"""A dispatcher told that something was queued in its process sends it at once, not at its
next poll; the webhook processor tells it after applying inbound messages."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.outbox.conftest import dispatcher, make_lead, send

from ingest.conftest import Harness, status_body, status_item, text_body
from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.models import Message

pytestmark = pytest.mark.anyio


async def test_a_woken_dispatcher_sends_before_its_next_poll(
    seeded: Database, client: CloudApiClient
) -> None:
    lead = await make_lead(seeded)
    idle = dispatcher(seeded, client, poll_s=30.0)  # the next poll is half a minute away
    stop = asyncio.Event()
    running = asyncio.create_task(idle.run(stop))
    try:
        await asyncio.sleep(0.3)  # nothing due: it waits
        queued = await send(seeded, lead.id, template="welcome_new_lead", params=["נועה", "חיפה"])
        idle.wake()
        deadline = time.monotonic() + 5
        while True:
            async with seeded.session() as session:
                row = await session.get(Message, queued.id)
                status = (row.status, row.error_code, row.error_title) if row else None
            if status and status[0] == "sent":
                break
            assert time.monotonic() < deadline, f"still {status}: the wake was not heard"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running


async def test_the_processor_says_when_it_applied_inbound_messages(seeded: Database) -> None:
    calls: list[int] = []
    harness = Harness(seeded)
    harness.processor.on_applied = lambda: calls.append(1)
    await harness.deliver(status_body(status_item("wamid.none", "delivered", 1767000000)))
    assert calls == []  # statuses queue nothing
    # The session's live server runs a processor of its own on this database and may claim a
    # body first (then this one is not told): send texts until this processor applied one.
    for n in range(10):
        text = text_body(f"wamid.wake.{n}", "שלום", wa_id="972521119999")
        if (await harness.deliver(text)).processed:
            break
    else:
        pytest.fail("the session's server applied every text before this processor could")
    assert calls == [1]
