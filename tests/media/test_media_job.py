"""The worker's ``media.fetch`` job as the scheduler runs it, with the worker's settings."""

from __future__ import annotations

import pytest

from media.conftest import PDF, MediaWorld
from ovenai import scheduler, worker
from ovenai.settings import Settings

pytestmark = pytest.mark.anyio


async def test_the_timed_job_fetches_with_the_settings_store_and_token(
    world: MediaWorld, sim_settings: Settings
) -> None:
    row = await world.send("document", PDF)
    await worker.fetch_media(scheduler.JobContext(sim_settings, world.db))
    assert (await world.row(row.id)).state == "stored"
    assert scheduler.REGISTRY["media.fetch"].func is worker.fetch_media
