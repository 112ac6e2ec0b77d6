"""Each message and status is applied exactly once, whatever Meta re-sends, in any order."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import func, select

from ovenai.ingest.parse.body_parser import parse_webhook
from ovenai.ingest.processor import Processor
from ovenai.models import AppliedItem, Message, StatusEvent, WebhookEventLead

pytestmark = pytest.mark.anyio

T0 = 1767000000


async def count(db, model) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_body_delivered_twice_makes_one_message(bodies, harness, db) -> None:
    raw = bodies.text("wamid.DUP", "שלום")
    await harness.deliver(raw, raw)
    await harness.deliver(raw)
    assert await count(db, Message) == 1
    assert len(await harness.events()) == 3  # every delivery is stored, applied once


async def test_the_same_message_in_two_different_bodies_is_applied_once(bodies, harness, db):
    await harness.deliver(bodies.text("wamid.TWICE", "hi", ts=T0))
    await harness.deliver(bodies.text("wamid.TWICE", "hi", ts=T0, name="Noa B."))
    assert await count(db, Message) == 1


async def test_a_batch_applies_every_entry_change_and_item(harness, load_payload, db) -> None:
    raw = load_payload("batch_multi_entry_multi_change.json")
    events = parse_webhook(raw)
    inbound = [e for e in events if type(e).__name__ == "InboundMessage"]
    statuses = [e for e in events if type(e).__name__ == "StatusUpdate"]
    for wamid in {status.message_id for status in statuses}:
        await harness.outbound(wamid)
    await harness.deliver(raw)
    assert len(inbound) >= 2 and len(statuses) >= 2
    for event in inbound:
        assert (await harness.message(event.message_id)).direction == "inbound"
    assert await count(db, StatusEvent) == len({(s.message_id, s.status_raw) for s in statuses})
    for status in statuses:
        assert (await harness.message(status.message_id)).status != "sending"


async def test_the_stored_body_remembers_its_leads(bodies, harness, db) -> None:
    await harness.deliver(bodies.text("wamid.L", "hi"))
    (event,) = await harness.events()
    (lead,) = await harness.leads()
    async with db.session() as session:
        links = (await session.execute(select(WebhookEventLead))).scalars().all()
    assert [(link.event_id, link.lead_id) for link in links] == [(event.id, lead.id)]


@pytest.mark.parametrize(
    "order", list(itertools.permutations(("sent", "delivered", "read", "failed")))[::3]
)
async def test_statuses_in_any_order_and_repeated_end_the_same(bodies, harness, order) -> None:
    await harness.outbound("wamid.ORD")
    offsets = {"sent": 0, "failed": 1, "delivered": 2, "read": 3}
    for status in (*order, order[0], order[-1]):
        code = 131026 if status == "failed" else None
        item = bodies.status("wamid.ORD", status, T0 + offsets[status], code)
        await harness.deliver(bodies.statuses(item))
    message = await harness.message("wamid.ORD")
    assert (message.status, message.error_code) == ("read", 131026)
    assert message.sent_at is not None and message.delivered_at is not None


async def test_two_processors_at_once_apply_each_item_once(bodies, harness, db) -> None:
    kept = []
    for n in range(40):
        kept.append(await harness.keep(bodies.text(f"wamid.C{n}", "hi", ts=T0 + n)))
        kept.append(await harness.keep(bodies.text(f"wamid.C{n}", "hi", ts=T0 + n)))
    await asyncio.gather(Processor(db, batch_size=7).drain(), Processor(db, batch_size=5).drain())
    # The session's live server runs a third processor: a batch it holds (skipped by the
    # two above) commits a moment later, so wait until nothing kept is pending.
    await harness.settle(kept)
    assert await count(db, Message) == 40
    assert await count(db, AppliedItem) == 40
    assert {event.status for event in await harness.events()} == {"processed"}
