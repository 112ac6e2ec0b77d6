"""Drill: duplicated and reordered webhooks at volume, applied by two processes at once.

A real ``ovenai worker`` sends one message to each lead through the simulator (so each has
Meta's wamid); then Meta's side posts, signed and concurrently, every status of those
messages (``sent``, then ``delivered``, then ``read``, up to a chosen one per message) and
the inbound messages of new senders and of the leads, each body several times, all in one
shuffled order (a ``read`` may come before its ``sent``). ``ovenai serve`` stores them and
both it and the worker apply them (two processors claiming the same backlog).

Counted: every post answered 200 and stored once as it was posted; every stored body
processed, no item failed; each message's status is the highest posted for it, with the
times of what it reached; each (message, status) kept once; each inbound message stored
once; each new sender one lead, with all of its messages.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, text
from tests.outbox.conftest import make_lead, recently

from drills.product import (
    PHONE_ID,
    SIM,
    TOKEN,
    WABA_ID,
    Answers,
    environment,
    inbound_body,
    report,
    signed,
    start,
    start_serve,
    status_body,
)
from ovenai import dialects
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.models import Lead, Message
from ovenai.outbox import queue
from ovenai.settings import Settings
from ovenai.simulator import SimulatorThread
from support.simulator_http import post_control

pytestmark = pytest.mark.anyio
SETTLE_S = 120.0
LADDER = ("sent", "delivered", "read")
STORED = text("SELECT status, count(*) FROM webhook_events GROUP BY status")
KEPT = text("SELECT status, applied FROM status_events")
INBOUND = text(
    "SELECT wa_message_id, lead_id FROM messages"
    " WHERE direction = 'inbound' AND wa_message_id LIKE 'wamid.storm.%'"
)


@dataclass(frozen=True)
class Plan:
    """Messages whose statuses are posted, new senders and their messages, copies of each body."""

    messages: int
    senders: int
    per_sender: int
    copies: int
    posters: int


SHORT = Plan(messages=24, senders=8, per_sender=2, copies=3, posters=4)
LONG = Plan(messages=600, senders=200, per_sender=3, copies=4, posters=8)


async def _until(done: Any, what: str, *tails: Any) -> None:
    deadline = time.monotonic() + SETTLE_S
    while not await done():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {SETTLE_S} s\n" + "\n".join(t() for t in tails))
        await asyncio.sleep(0.2)


async def _scalar(db: Database, statement: Any) -> Any:
    async with db.session() as session:
        return await session.scalar(statement)


def _post_all(url: str, bodies: list[bytes], plan: Plan) -> Answers:
    """Post every body once, from ``plan.posters`` threads, in the list's order."""
    answers = Answers()
    lock = threading.Lock()
    position = iter(range(len(bodies)))

    def poster() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while True:
                with lock:
                    index = next(position, None)
                if index is None:
                    return
                body = bodies[index]
                try:
                    status = client.post(
                        WEBHOOK_PATH, content=body, headers=signed(body)
                    ).status_code
                except httpx.TransportError:
                    status = 0
                with lock:
                    answers.add(status)

    threads = [threading.Thread(target=poster) for _ in range(plan.posters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SETTLE_S)
    return answers


async def _drill(db: Database, settings: Settings, folder: Path, plan: Plan) -> dict[str, Any]:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    with SimulatorThread(SIM) as simulator:
        product = settings.model_copy(
            update={
                "whatsapp_access_token": SecretStr(TOKEN),
                "whatsapp_phone_number_id": PHONE_ID,
                "whatsapp_business_account_id": WABA_ID,
                "whatsapp_api_base_url": simulator.base_url,
            }
        )
        env = environment(product, OVENAI_LOG_LEVEL="WARNING")
        wa_of: dict[str, str] = {}  # lead id -> wa_id
        for _ in range(plan.messages):
            lead = await make_lead(db, wrote_at=recently())
            wa_of[lead.id] = (lead.phone or "").removeprefix("+")
            post_control(
                simulator.base_url,
                "inbound",
                {"from": wa_of[lead.id], "type": "text", "text": "hi", "wait": False},
            )
            await queue.send_message(
                db,
                actor=Actor.system(),
                lead_id=lead.id,
                request=queue.OutboundRequest(text="drill"),
                waba_id=WABA_ID,
                zone=UTC,
            )
        worker = start("worker", ["worker"], env, folder)
        serve, url = start_serve(env, folder)
        try:
            return await _attack(db, plan, rng, seed, wa_of, url, serve, worker)
        finally:
            serve.stop()
            worker.stop()


async def _attack(
    db: Database,
    plan: Plan,
    rng: random.Random,
    seed: int,
    wa_of: dict[str, str],
    url: str,
    *processes: Any,
) -> dict[str, Any]:
    tails = [p.tail for p in processes]
    sent_count = select(func.count()).select_from(Message).where(Message.wa_message_id.is_not(None))
    await _until(lambda: _count_is(db, sent_count, plan.messages), "messages not sent", *tails)
    async with db.session() as session:
        messages = list(
            (
                await session.execute(select(Message.id, Message.lead_id, Message.wa_message_id))
            ).all()
        )

    # The bodies: statuses up to each message's target, inbound messages; each several times.
    now = int(time.time())
    target: dict[str, str] = {}
    bodies: list[bytes] = []
    for n, (message_id, lead_id, wamid) in enumerate(messages):
        target[message_id] = LADDER[n % len(LADDER)]
        for step, status in enumerate(LADDER[: LADDER.index(target[message_id]) + 1]):
            bodies.append(status_body(wamid, wa_of[lead_id], status, now + step))
    inbound: dict[str, str] = {}  # wamid -> wa_id
    for s in range(plan.senders):
        for m in range(plan.per_sender):
            inbound[f"wamid.storm.new.{s}.{m}"] = f"97253{s:07d}"
    for lead_id, wa_id in wa_of.items():
        inbound[f"wamid.storm.lead.{lead_id}"] = wa_id
    for wamid, wa_id in inbound.items():
        bodies.append(inbound_body(wa_id, wamid, f"storm {wamid}", now))
    distinct = len(bodies)
    bodies = bodies * plan.copies
    rng.shuffle(bodies)

    began = time.monotonic()
    answers = await asyncio.to_thread(_post_all, url, bodies, plan)
    posted = time.monotonic()
    assert answers.counts == {200: len(bodies)}, (answers.counts, seed)
    pending = text("SELECT count(*) FROM webhook_events WHERE status = 'pending'")
    await _until(lambda: _count_is(db, pending, 0), "bodies left pending", *tails)
    applied = time.monotonic()

    async with db.session() as session:
        stored = dict((await session.execute(STORED)).all())
        failures = await session.scalar(text("SELECT count(*) FROM webhook_item_failures"))
        outbound = select(Message).where(Message.direction == "outbound")
        rows = {row.id: row for row in (await session.scalars(outbound)).all()}
        kept = Counter((await session.execute(KEPT)).all())
        arrived = Counter((await session.execute(INBOUND)).all())
        leads = await session.scalar(select(func.count()).select_from(Lead))
    assert stored == {"processed": len(bodies)}, (stored, seed)
    assert failures == 0, seed
    for message_id, row in rows.items():
        want = target[message_id]
        assert row.status == want, (row.status, want, seed)
        assert (row.delivered_at is not None) == (want in ("delivered", "read")), seed
        assert (row.read_at is not None) == (want == "read"), seed
    ladder = Counter(target.values())
    expected_kept = Counter(
        {
            ("sent", True): len(target),
            ("delivered", True): ladder["delivered"] + ladder["read"],
            ("read", True): ladder["read"],
        }
    )
    assert kept == expected_kept, (kept, seed)
    assert {wamid for wamid, _ in arrived} == set(inbound), seed
    assert set(arrived.values()) == {1}, seed
    assert leads == plan.messages + plan.senders, seed
    lead_of_sender: dict[str, set[str]] = {}
    for wamid, lead_id in arrived:
        lead_of_sender.setdefault(inbound[wamid], set()).add(lead_id)
    assert all(len(ids) == 1 for ids in lead_of_sender.values()), seed
    return {
        "posts": len(bodies),
        "distinct bodies": distinct,
        "answered 200": answers.counts.get(200, 0),
        "statuses kept": sum(kept.values()),
        "inbound stored": len(arrived),
        "leads": leads,
        "posting took (s)": round(posted - began, 1),
        "applied after the last post (s)": round(applied - posted, 1),
    }


async def _count_is(db: Database, statement: Any, count: int) -> bool:
    return int(await _scalar(db, statement) or 0) == count


async def test_duplicated_and_reordered_webhooks_end_at_the_highest_status_short(
    db: Database, clean_db: Settings, tmp_path: Path
) -> None:
    await _drill(db, clean_db, tmp_path, SHORT)


@pytest.mark.drills
async def test_duplicated_and_reordered_webhooks_end_at_the_highest_status(
    db: Database, clean_db: Settings, tmp_path: Path
) -> None:
    report(
        f"webhook-storm-{dialects.of_url(clean_db.database_url)}",
        await _drill(db, clean_db, tmp_path, LONG),
    )
