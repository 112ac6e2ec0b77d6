"""The worker's ``media.fetch`` job as the scheduler runs it, with the worker's settings."""

from __future__ import annotations

import asyncio

import pytest

from media.conftest import PDF, MediaWorld
from ovenai import media_fetch, scheduler, worker
from ovenai.settings import Settings

pytestmark = pytest.mark.anyio


async def test_the_timed_job_fetches_with_the_settings_store_and_token(
    world: MediaWorld, sim_settings: Settings
) -> None:
    row = await world.send("document", PDF)
    await worker.fetch_media(scheduler.JobContext(sim_settings, world.db))
    assert (await world.row(row.id)).state == "stored"
    assert scheduler.REGISTRY["media.fetch"].func is worker.fetch_media


async def test_with_nothing_due_a_run_claims_nothing_and_does_not_linger(
    world: MediaWorld,
) -> None:
    # A lingering run would keep its lanes claiming (write transactions) for a whole
    # linger: ten minutes here, far past the wait below.
    empty = await asyncio.wait_for(media_fetch.run(world.fetcher, linger_s=600), 30)
    assert empty == media_fetch.Outcome()
    row = await world.send("document", PDF)
    assert (await world.row(row.id)).state == "pending"
    done = await asyncio.wait_for(media_fetch.run(world.fetcher, linger_s=0.5), 30)
    assert done.stored == 1 and (await world.row(row.id)).state == "stored"
