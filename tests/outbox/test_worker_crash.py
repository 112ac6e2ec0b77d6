"""A worker process killed in the middle of a batch leaves nothing stuck and loses nothing.

The killed worker's requests were in flight (the simulator holds each for a while), so
the simulator may have accepted them: those messages are sent again once the claims expire
(at-least-once, README "Delivery guarantees"), and never more than once more.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from tests.outbox.conftest import WABA_ID, dispatcher, make_lead, recently

from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import Message
from ovenai.outbox import queue
from ovenai.settings import Settings
from ovenai.simulator import SimulatorThread
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio
CLAIM_TTL_S = 2.0


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of an `ovenai worker` process using these settings."""
    return os.environ | {
        "DATABASE_URL": settings.database_url,
        "OVENAI_KEYSTORE_URL": settings.keystore_url or "",
        "OVENAI_ENCRYPTION_KEYS": settings.secret("encryption_keys"),
        "OVENAI_SECRET_KEY": settings.secret("secret_key"),
        "OVENAI_DATA_DIR": str(settings.data_dir),
        "WHATSAPP_ACCESS_TOKEN": settings.secret("whatsapp_access_token"),
        "WHATSAPP_PHONE_NUMBER_ID": settings.whatsapp_phone_number_id or "",
        "WHATSAPP_BUSINESS_ACCOUNT_ID": settings.whatsapp_business_account_id or "",
        "WHATSAPP_API_BASE_URL": settings.whatsapp_api_base_url,
        "OVENAI_MESSAGING_TIER": "unlimited",
        "OVENAI_MESSAGES_PER_SECOND": "1000",
        "OVENAI_PAIR_BURST": "45",
        "OVENAI_WORKER_CLAIM_TTL_S": str(CLAIM_TTL_S),
        "OVENAI_WORKER_METRICS_LISTEN": settings.worker_metrics_listen,
    }


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """`ovenai worker` as a real process."""
    command = [sys.executable, "-c", "from ovenai.cli import main; main()", "worker"]
    with open(settings.data_dir / "worker.log", "ab") as log:
        return subprocess.Popen(command, env=worker_env(settings), stdout=log, stderr=log)


async def _count(db: Database, status: str) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(Message).where(Message.status == status)
        return int(await session.scalar(query) or 0)


async def _wait_for(db: Database, status: str, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while await _count(db, status) < count:
        assert time.monotonic() < deadline, f"fewer than {count} messages became {status}"
        await asyncio.sleep(0.05)


async def _until(done: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


async def test_a_killed_worker_leaves_nothing_stuck_and_loses_nothing(
    db: Database,
    sim_settings: Settings,
    client: CloudApiClient,
    control: SimControl,
    fresh_simulator: SimulatorThread,
) -> None:
    leads = [await make_lead(db, wrote_at=recently()) for _ in range(12)]
    for lead in leads:
        await control.inbound(**{"from": lead.phone, "type": "text", "text": "hi", "wait": False})
    for lead in leads:
        for n in range(2):
            request = queue.OutboundRequest(text=f"{lead.id}:{n}")
            await queue.send_message(
                db,
                actor=Actor.system(),
                lead_id=lead.id,
                request=request,
                waba_id=WABA_ID,
                zone=utcnow().tzinfo,  # type: ignore[arg-type]
            )
    # Every send is held 1.5 s before the simulator answers. The first twelve it receives
    # use up a fault of their own: once that fault is gone, all twelve have reached it.
    await control.faults(latency={"ms": 1500, "count": len(leads)})
    await control.faults(latency={"ms": 1500, "count": None})
    delays = fresh_simulator.state.faults.delays
    assert len(delays) == 2

    worker = start_worker(sim_settings)
    try:
        await _wait_for(db, "sending", len(leads))  # the first batch is claimed
        await _until(lambda: len(delays) == 1, "the first batch never reached the simulator")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    assert await _count(db, "sent") == 0
    # The simulator answers held sends in the order it received them: once this probe, sent
    # after the kill, is answered, every send the dead worker left there has been accepted
    # (or refused), so nothing it sent can reach the simulator after the count below.
    await client.mark_read("wamid.probe-after-the-crash")
    await control.faults(clear=True)
    left_by_the_dead = (await control.outbox())["messages"]
    assert len(left_by_the_dead) >= len(leads)  # the twelve in flight were delivered anyway

    dispatcher_deadline = time.monotonic() + 20
    while await _count(db, "sent") < 2 * len(leads):  # once the dead worker's claims expire
        assert time.monotonic() < dispatcher_deadline, "the dead worker's messages stayed stuck"
        await dispatcher(db, client).drain()
        await asyncio.sleep(0.05)

    assert await _count(db, "sending") == await _count(db, "queued") == 0
    accepted = (await control.outbox())["messages"]
    bodies = Counter(m["body"]["text"]["body"] for m in accepted)
    expected = {f"{lead.id}:{n}" for lead in leads for n in range(2)}
    assert set(bodies) == expected  # nothing lost
    # Each message was accepted once after the crash, plus each copy the dead worker got
    # accepted: at most one extra copy, and only of what was in flight at the crash.
    assert len(accepted) == len(expected) + len(left_by_the_dead)
    assert max(bodies.values()) <= 2
    firsts = {f"{lead.id}:0" for lead in leads}
    extra = {text for text, copies in bodies.items() if copies == 2}
    assert extra <= firsts
    assert all(bodies[text] == 1 for text in expected - firsts)  # never claimed: once
