"""An item that cannot be read is recorded with its body, never loses its sound siblings, and
is read again by a replay; a body fails only when nothing in it could be read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import delete, func, insert, select, update

from ovenai import retention
from ovenai.columns import new_id, utcnow
from ovenai.events import UnreadableItem
from ovenai.ingest import failures
from ovenai.ingest.parse.body_parser import parse_webhook
from ovenai.models import AppliedItem, Message, WebhookEvent, WebhookItemFailure

pytestmark = pytest.mark.anyio

WA_ID = "972521234567"
SECRET = "הסוד של נועה"  # a text only the unreadable message holds: never stored in the clear
CONTACT = {"profile": {"name": "Noa"}, "wa_id": WA_ID}


def message(wamid: str | None, text: str = "שלום") -> dict[str, Any]:
    """A text message; without a wamid it cannot be read."""
    item = {"from": WA_ID, "timestamp": "1767000000", "type": "text", "text": {"body": text}}
    return item if wamid is None else {"id": wamid, **item}


def messages_body(bodies: Any, *items: dict[str, Any], **value: Any) -> bytes:
    return bodies.envelope({"contacts": [CONTACT], "messages": list(items), **value})


async def failure_rows(db: Any, event_id: str | None = None) -> list[WebhookItemFailure]:
    async with db.session() as session:
        query = select(WebhookItemFailure).order_by(WebhookItemFailure.id)
        if event_id is not None:
            query = query.where(WebhookItemFailure.event_id == event_id)
        return list(await session.scalars(query))


async def body_state(db: Any, event_id: str) -> tuple[str, str | None]:
    async with db.session() as session:
        event = await session.get(WebhookEvent, event_id)
        assert event is not None
        return event.status, event.error


async def replay_failed(harness: Any) -> failures.Requeued:
    async with harness.db.session() as session:
        requeued = await failures.requeue_failed(session)
        await session.commit()
    ids = [event.id for event in await harness.events()]
    await harness.settle(ids)
    return requeued


async def test_a_broken_message_is_recorded_and_its_sound_sibling_applies(bodies, harness) -> None:
    raw = messages_body(bodies, message(None, SECRET), message("wamid.SOUND"))
    (unreadable, _) = parse_webhook(raw)
    assert isinstance(unreadable, UnreadableItem)
    event_id = await harness.keep(raw)
    await harness.settle([event_id])

    lead = await harness.lead(wa_id=WA_ID)
    assert lead is not None
    assert [m.wa_message_id for m in await harness.conversation(lead.id)] == ["wamid.SOUND"]
    assert await body_state(harness.db, event_id) == ("processed", None)
    (row,) = await failure_rows(harness.db, event_id)
    assert (row.item, row.field, row.path) == ("message", "messages", unreadable.path)
    assert row.path.startswith("$") and "`id`" in row.problem
    assert row.first_seen == row.last_seen
    stored = " ".join(str(value) for value in vars(row).values())
    assert SECRET not in stored and "שלום" not in stored


async def test_a_body_of_only_broken_items_fails_with_a_summary_of_them(bodies, harness) -> None:
    raw = messages_body(
        bodies,
        message(None, SECRET),
        message(None),
        statuses=[{"status": "read", "timestamp": "1767000000"}],
    )
    event_id = await harness.keep(raw)
    await harness.settle([event_id])

    status, error = await body_state(harness.db, event_id)
    assert status == "failed"
    assert error is not None and error.startswith("UnreadableItem: nothing in the body")
    assert "(3 items)" in error and "message at $" in error and "status at $" in error
    assert SECRET not in error
    assert {row.item for row in await failure_rows(harness.db, event_id)} == {"message", "status"}
    assert await harness.leads() == []


async def test_a_body_that_is_no_webhook_fails_as_before_without_item_rows(harness) -> None:
    event_id = await harness.keep(b'{"object": "whatsapp_business_account", "entry": 5}')
    await harness.settle([event_id])
    status, error = await body_state(harness.db, event_id)
    assert status == "failed" and (error or "").startswith("MalformedPayload")
    assert await failure_rows(harness.db, event_id) == []


async def test_a_replay_that_reads_the_item_applies_it_once_and_clears_its_failure(
    bodies, harness
) -> None:
    # An older version applied the first message and could not read the second.
    raw = messages_body(bodies, message("wamid.READ1"), message("wamid.LATER", "מאוחר"))
    event_id = await harness.keep(raw)
    await harness.settle([event_id])
    async with harness.db.session() as session:
        await session.execute(delete(Message).where(Message.wa_message_id == "wamid.LATER"))
        await session.execute(delete(AppliedItem).where(AppliedItem.dedupe_key.like("%LATER")))
        row = {"id": new_id(), "event_id": event_id, "item": "message", "field": "messages"}
        row |= {"path": "$.entry[0].changes[0].value.messages[1]", "problem": "old parser"}
        row |= {"first_seen": utcnow(), "last_seen": utcnow()}
        await session.execute(insert(WebhookItemFailure), [row])
        await session.commit()

    assert await replay_failed(harness) == failures.Requeued(failed=0, with_failed_items=1)
    assert await replay_failed(harness) == failures.Requeued(failed=0, with_failed_items=0)

    lead = await harness.lead(wa_id=WA_ID)
    assert lead is not None
    texts = [m.text for m in await harness.conversation(lead.id)]
    assert sorted(texts) == sorted(["שלום", "מאוחר"])  # each exactly once
    assert await failure_rows(harness.db, event_id) == []
    assert await body_state(harness.db, event_id) == ("processed", None)


async def test_an_item_still_unreadable_keeps_one_row_and_when_it_was_first_seen(
    bodies, harness
) -> None:
    event_id = await harness.keep(messages_body(bodies, message(None), message("wamid.KEEP")))
    await harness.settle([event_id])
    (before,) = await failure_rows(harness.db, event_id)
    async with harness.db.session() as session:  # seen an hour ago
        earlier = {"first_seen": before.first_seen - timedelta(hours=1)}
        earlier |= {"last_seen": before.last_seen - timedelta(hours=1)}
        await session.execute(update(WebhookItemFailure).values(**earlier))
        await session.commit()

    assert await replay_failed(harness) == failures.Requeued(failed=0, with_failed_items=1)

    (after,) = await failure_rows(harness.db, event_id)
    assert after.id == before.id and after.first_seen == earlier["first_seen"]
    assert after.last_seen > earlier["last_seen"]
    assert await body_state(harness.db, event_id) == ("processed", None)


async def test_a_replay_requeues_failed_bodies_too(harness) -> None:
    event_id = await harness.keep(b'{"object": "whatsapp_business_account", "entry": 5}')
    await harness.settle([event_id])
    assert await replay_failed(harness) == failures.Requeued(failed=1, with_failed_items=0)
    assert (await body_state(harness.db, event_id))[0] == "failed"  # still no webhook


async def test_unreadable_items_are_counted_by_item_and_field(bodies, harness) -> None:
    labels = {"item": "message", "field": "messages"}
    before = REGISTRY.get_sample_value("ovenai_webhook_unreadable_items_total", labels) or 0.0
    await harness.deliver(messages_body(bodies, message(None), message("wamid.COUNT")))
    after = REGISTRY.get_sample_value("ovenai_webhook_unreadable_items_total", labels)
    assert after == before + 1


async def test_the_failures_are_listed_newest_first_with_their_items(bodies, harness) -> None:
    older = await harness.keep(messages_body(bodies, message(None), message("wamid.L1")))
    broken = await harness.keep(b'{"object": "whatsapp_business_account", "entry": 5}')
    sound = await harness.keep(bodies.text("wamid.L2", "hi"))
    await harness.settle([older, broken, sound])
    async with harness.db.session() as session:
        listed = await failures.list_failed(session)
        since = await failures.list_failed(session, since=utcnow() + timedelta(minutes=1))
    assert [body.id for body in listed] == [broken, older]
    assert [(body.status, len(body.items)) for body in listed] == [("failed", 0), ("processed", 1)]
    assert listed[0].error is not None and listed[0].error.startswith("MalformedPayload")
    assert since == []


async def test_retention_takes_the_failures_with_their_body(bodies, harness) -> None:
    event_id = await harness.keep(messages_body(bodies, message(None), message("wamid.OLD")))
    await harness.settle([event_id])
    async with harness.db.session() as session:
        old = utcnow() - timedelta(days=400)
        await session.execute(update(WebhookEvent).values(received_at=old))
        await session.commit()
    policy = retention.Policy(
        conversations=timedelta(days=730),
        webhook_logs=timedelta(days=365),
        audit=timedelta(days=730),
        lead_grace=timedelta(days=180),
    )
    counts = await retention.run(harness.db, policy=policy)
    assert counts["webhook_events"] == 1
    async with harness.db.session() as session:
        left = await session.scalar(select(func.count()).select_from(WebhookItemFailure))
    assert left == 0
