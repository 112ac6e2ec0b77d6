"""`ovenai serve` can leave processing to another process (OVENAI_WEBHOOK_PROCESS_IN_SERVE),
which drains the stored bodies with `run_processor` until it is told to stop."""

from __future__ import annotations

import asyncio
import time

import pytest

from ovenai.ingest.processor import run_processor
from ovenai.web.app import create_app

pytestmark = pytest.mark.anyio


def test_serve_does_not_process_when_turned_off(settings) -> None:
    off = settings.model_copy(update={"webhook_process_in_serve": False})
    assert create_app(off).state.webhooks.processor is None
    assert create_app(settings).state.webhooks.processor is not None


async def test_run_processor_drains_stored_bodies_until_stopped(db, bodies, harness) -> None:
    ids = [await harness.keep(bodies.text(f"wamid.W{n}", "שלום")) for n in range(5)]
    stop = asyncio.Event()
    running = asyncio.create_task(run_processor(db, stop))
    deadline = time.monotonic() + 10
    while {event.status for event in await harness.events() if event.id in ids} != {"processed"}:
        assert time.monotonic() < deadline, "run_processor did not process the stored bodies"
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, 10)
    (lead,) = await harness.leads()
    assert len(await harness.conversation(lead.id)) == 5
