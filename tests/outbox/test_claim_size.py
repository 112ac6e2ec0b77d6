"""A claim sized by what this worker's share of the number's rate sends before half the claim
has run out (ovenai.outbox.claim_size), and two workers at a low cap that no longer churn."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from tests.outbox.conftest import WABA_ID, config, make_lead

from ovenai import heartbeats
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import Message, MessageStatus
from ovenai.outbox import queue
from ovenai.outbox.bucket_store import DatabaseBuckets
from ovenai.outbox.claim_size import ClaimSize, capacity, claim_limit
from ovenai.outbox.dispatcher import Dispatcher
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio


def test_at_metas_default_rate_one_worker_claims_whole_batches_as_before() -> None:
    default = config(messages_per_second=80.0, claim_ttl_s=60.0)
    # 77.6 a second for 30 s, half of it: more than the two batches the line holds, and the
    # next; shared by two workers, a whole batch still goes behind 382 waiting
    assert claim_limit(default, workers=1, waiting=0) == 200
    assert claim_limit(default, workers=1, waiting=400) == 200
    assert claim_limit(default, workers=2, waiting=382) == 200


def test_a_worker_claims_what_its_share_of_a_low_rate_sends_in_half_the_claim() -> None:
    low = config(messages_per_second=20.0, claim_ttl_s=4.0, batch_size=40)
    # 19.4 a second shared by two: 9.7 a second for 2 s, of which half
    assert capacity(low, workers=2) == 9
    assert claim_limit(low, workers=2, waiting=0) == 9
    assert claim_limit(low, workers=2, waiting=4) == 5  # the line half empty: refilled
    assert claim_limit(low, workers=2, waiting=5) == 0  # not yet: no claim of a few
    assert claim_limit(low, workers=1, waiting=0) == 19  # alone, twice as many
    # At least one a claim, however low the share.
    tiny = config(messages_per_second=1.0, claim_ttl_s=1.0)
    assert claim_limit(tiny, workers=4, waiting=0) == 1


def test_unpaced_a_worker_claims_whole_batches() -> None:
    unpaced = config(messages_per_second=None)
    assert claim_limit(unpaced, workers=8, waiting=5000) == unpaced.claim_batch


async def test_the_workers_alive_are_counted_from_their_heartbeats(db: Database) -> None:
    low = config(messages_per_second=20.0, claim_ttl_s=4.0, batch_size=40)
    sizes = ClaimSize(db, low, "host:1:aaaaaa")
    assert await sizes.limit(0) == 19 and sizes.workers == 1  # no heartbeat yet: itself
    for worker in ("host:1:aaaaaa", "host:2:bbbbbb", "host:3:cccccc"):
        await heartbeats.beat(db, worker, utcnow())
    sizes = ClaimSize(db, low, "host:1:aaaaaa")
    assert await sizes.limit(0) == 6 and sizes.workers == 3


def _given_back(reason: str) -> float:
    value = REGISTRY.get_sample_value("ovenai_outbox_given_back_total", {"reason": reason})
    return value or 0.0


async def _queue_templates(db: Database, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        lead = await make_lead(db)
        request = queue.OutboundRequest(template="welcome_new_lead", params=["נועה", "חיפה"])
        queued = await queue.send_message(
            db,
            actor=Actor.system(),
            lead_id=lead.id,
            request=request,
            waba_id=WABA_ID,
            zone=utcnow().tzinfo,  # type: ignore[arg-type]
        )
        ids.append(queued.id)
    return ids


async def test_two_workers_at_a_low_cap_claim_only_what_they_send_in_time(
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    """Two workers share 20 a second, each claim good for 4 s of sending (an 8 s claim): a
    batch of 80 and one claimed ahead are four times what a worker's 9.7 a second sends in
    time, so most of each claim went back to the queue and was claimed again (before the
    sizing: 88-95 of 160 given back, three runs). Sized by the share (19 a claim), the claims go out
    whole: (almost) nothing is given back, every message is sent once, and no second carries
    more than the cap. (On a box so busy that a worker sends slower than its share, what ages
    out is still given back: that is the safety net, hence "almost".)"""
    await control.config(mps_cap=20)
    ids = await _queue_templates(seeded, 160)
    settings = config(messages_per_second=20.0, claim_ttl_s=8.0, batch_size=80)
    workers = [Dispatcher(seeded, client, DatabaseBuckets(seeded), settings) for _ in range(2)]
    for worker in workers:  # as `ovenai worker` does when it starts (ovenai.heartbeats)
        await heartbeats.beat(seeded, worker.worker_id, utcnow())
    late_before = _given_back("late")

    async def unsent() -> int:
        async with seeded.session() as session:
            query = select(func.count()).where(
                Message.id.in_(ids), Message.status != MessageStatus.SENT
            )
            return int(await session.scalar(query) or 0)

    stop = asyncio.Event()
    running = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        for _ in range(600):  # 160 sends at 19.4 a second take about 8 s; 60 s is ample
            if await unsent() == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*running)

    assert await unsent() == 0
    given_back = _given_back("late") - late_before
    # Before the sizing 88-95; since, 0 in most runs and 2-9 in a few with the box at load
    # 12-15 (its 2 cores shared with other work): a tenth is far from either.
    assert given_back <= 16, f"{given_back:.0f} claimed messages were given back"
    stats = await control.stats()
    assert stats["counts"].get("accepted") == 160  # none sent twice
    refused = stats["counts"].get("rejected_130429", 0)  # a rare early slot (test_limits)
    assert refused <= 3
    assert stats["max_attempts_per_second"] <= 20 + refused
