"""Queueing rules: the window, opt-out, BSUID recipients, language fallback, filled params."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from tests.outbox.conftest import WABA_ID, dispatcher, make_lead, recently, send

from ovenai import conversations
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import Conflict, InvalidInput
from ovenai.models import Lead, Message, MessageTemplate, Property
from ovenai.outbox import queue
from ovenai.outbox.rules import LeadOptedOut, OutsideServiceWindow
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio


async def _sent_bodies(control: SimControl) -> list[dict[str, Any]]:
    return [m["body"] for m in (await control.outbox())["messages"]]


async def test_free_text_outside_the_window_is_refused_with_a_hint_to_use_a_template(
    seeded: Database,
) -> None:
    lead = await make_lead(seeded, wrote_at=utcnow() - timedelta(hours=25))
    with pytest.raises(OutsideServiceWindow) as refused:
        await send(seeded, lead.id, text="hello")
    assert "template" in refused.value.message and refused.value.http_status == 409


async def test_a_marketing_template_to_an_opted_out_lead_is_refused(seeded: Database) -> None:
    lead = await make_lead(seeded, opted_out=True)
    with pytest.raises(LeadOptedOut):
        await send(seeded, lead.id, template="followup_interest", params=["נועה", "רמת גן"])


async def test_a_utility_template_still_goes_to_an_opted_out_lead(seeded: Database) -> None:
    lead = await make_lead(seeded, opted_out=True)
    queued = await send(seeded, lead.id, template="welcome_new_lead", params=["נועה", "חיפה"])
    assert queued.status == "queued"


async def test_parameters_that_do_not_fit_the_template_are_refused(seeded: Database) -> None:
    lead = await make_lead(seeded)
    with pytest.raises(InvalidInput):
        await send(seeded, lead.id, template="welcome_new_lead", params=["only one"])


async def test_a_template_that_is_not_approved_is_refused(seeded: Database) -> None:
    async with seeded.session() as session:
        await session.execute(
            update(MessageTemplate)
            .where(MessageTemplate.family == "welcome_new_lead")
            .values(status="PAUSED")
        )
        await session.commit()
    lead = await make_lead(seeded)
    with pytest.raises(Conflict):
        await send(seeded, lead.id, template="welcome_new_lead", params=["a", "b"])


async def test_the_template_language_follows_the_lead_and_falls_back_when_missing(
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    english = await make_lead(seeded, language="en", name="Dana Levi")
    await send(seeded, english.id, template="welcome_new_lead", params=["Dana", "Haifa"])
    await send(seeded, english.id, template="followup_interest", params=["Dana", "Haifa"])

    await dispatcher(seeded, client).drain()

    templates = [body["template"] for body in await _sent_bodies(control)]
    assert [(t["name"], t["language"]["code"]) for t in templates] == [
        ("welcome_new_lead_en", "en"),
        ("followup_interest_he", "he"),  # no English version: Hebrew instead
    ]


async def test_parameters_are_filled_from_the_lead_and_property_when_not_given(
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    async with seeded.session() as session:
        listing = Property(city="רמת גן", area="הבורסה", rooms=4, size_m2=110, price=3_200_000)
        session.add(listing)
        await session.commit()
    lead = await make_lead(seeded, name="נועה")
    async with seeded.session() as session:
        row = await session.get(Lead, lead.id)
        assert row is not None
        row.property_id = listing.id
        await session.commit()

    queued = await send(seeded, lead.id, template="property_details")
    await dispatcher(seeded, client).drain()

    record = await conversations.get_message(seeded, actor=Actor.system(), message_id=queued.id)
    assert record.template_params == ["נועה", "רמת גן", "4", "110", "₪3,200,000"]
    (body,) = await _sent_bodies(control)
    params = body["template"]["components"][0]["parameters"]
    assert [p["text"] for p in params] == ["נועה", "רמת גן", "4", "110", "₪3,200,000"]


async def test_a_lead_without_a_phone_is_sent_to_by_bsuid(
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(seeded, bsuid="IL.5550001112223334445", wrote_at=recently())
    await control.inbound(user_id="IL.5550001112223334445", type="text", text="hi", wait=False)
    await send(seeded, lead.id, text="שלום")

    await dispatcher(seeded, client).drain()

    (body,) = await _sent_bodies(control)
    assert body["recipient"] == "IL.5550001112223334445" and "to" not in body


async def test_the_text_and_parameters_are_stored_sealed(seeded: Database) -> None:
    lead = await make_lead(seeded, wrote_at=recently())
    queued = await send(seeded, lead.id, text="סוד מסחרי")
    async with seeded.session() as session:
        row = await session.get(Message, queued.id)
        assert row is not None and row.text_enc is not None
        assert "סוד".encode() not in row.text_enc
    record = await conversations.get_message(seeded, actor=Actor.system(), message_id=queued.id)
    assert record.text == "סוד מסחרי" and json.dumps(record.status_history, default=str)


async def test_the_same_idempotency_key_queues_one_message(seeded: Database) -> None:
    lead = await make_lead(seeded, wrote_at=recently())
    request = queue.OutboundRequest(text="once")
    first, second = [
        await queue.send_message(
            seeded,
            actor=Actor.system(),
            lead_id=lead.id,
            request=request,
            waba_id=WABA_ID,
            zone=UTC,
            idempotency_key="form-42",
        )
        for _ in range(2)
    ]
    assert first.id == second.id
