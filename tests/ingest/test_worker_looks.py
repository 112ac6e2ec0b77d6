"""The worker's processor is not woken by serve's stores (another process): it looks for new
bodies every ``WORKER_LOOK_S``, so a lead's message is applied within a fraction of a second
rather than at the next two-second sweep."""

from __future__ import annotations

import asyncio
import time

import pytest

from ingest.conftest import APP_SECRET, text_body
from ovenai.db import Database
from ovenai.ingest.processor import WORKER_LOOK_S, Processor
from ovenai.ingest.receive.event_store import EventStore
from ovenai.ingest.receive.signature import sign

pytestmark = pytest.mark.anyio


async def applied_within(db: Database, processor: Processor, seconds: float) -> bool:
    """Store a body as another process would (nobody wakes ``processor``); whether the
    running ``processor`` itself applied it within ``seconds`` (the session's live server
    runs a processor of its own, which may take it: that one does not count)."""
    applied = asyncio.Event()
    processor.on_applied = applied.set
    processor.start()
    try:
        await asyncio.sleep(0.2)  # it drained at start and now waits
        store = EventStore(db)
        raw = text_body(f"wamid.look.{time.monotonic_ns()}", "שלום", wa_id="972521114444")
        await store.store(raw, {"x-hub-signature-256": sign(raw, APP_SECRET)})
        store.close()
        try:
            await asyncio.wait_for(applied.wait(), seconds)
        except TimeoutError:
            return False
        return True
    finally:
        await processor.stop()


async def test_the_worker_s_processor_looks_often(db: Database) -> None:
    # Three tries: the live server's own processor sweeps every two seconds and may take
    # one body first (about one time in twenty); it cannot take all three.
    tries = [
        await applied_within(db, Processor(db, sweep_interval=30.0, look_every=WORKER_LOOK_S), 1.0)
        for _ in range(3)
    ]
    assert any(tries)


async def test_without_looking_it_waits_for_the_sweep(db: Database) -> None:
    sweeping = Processor(db, sweep_interval=30.0)
    assert not await applied_within(db, sweeping, 1.0)
