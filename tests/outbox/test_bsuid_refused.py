"""Meta refuses a BSUID recipient for some messages (131062, Cloud API › Support › Error
codes): the send then goes once to the lead's number, if it has one; refused again, or
without a number, the message fails with Meta's code."""

from __future__ import annotations

import pytest
from tests.outbox.conftest import dispatcher, make_lead, new_phone, recently, send

from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.models import Message
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio

BSUID = "IL.5550001112223334445"
REFUSED = 131062


async def _message(db: Database, message_id: str) -> Message:
    async with db.session() as session:
        found = await session.get(Message, message_id)
        assert found is not None
        return found


async def _refuse(control: SimControl, *recipients: str) -> None:
    await control.faults(errors=[{"code": REFUSED, "recipient": r} for r in recipients])


async def _calls_refused(control: SimControl) -> int:
    return int((await control.stats())["counts"].get("fault_error", 0))


async def test_a_refused_bsuid_is_sent_to_the_lead_s_number_instead(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(db, phone=new_phone(), bsuid=BSUID, wrote_at=recently())
    hello = {"from": lead.phone, "user_id": BSUID, "type": "text", "text": "hi", "wait": False}
    await control.inbound(**hello)
    await _refuse(control, BSUID)
    message_id = (await send(db, lead.id, text="שלום")).id

    await dispatcher(db, client).drain()

    stored = await _message(db, message_id)
    assert (stored.status, stored.attempts, stored.error_code) == ("sent", 1, None)
    (sent,) = (await control.outbox())["messages"]
    assert sent["body"]["to"] == lead.phone and "recipient" not in sent["body"]
    assert await _calls_refused(control) == 1


async def test_a_number_refused_too_fails_the_message_without_a_third_call(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(db, phone=new_phone(), bsuid=BSUID, wrote_at=recently())
    assert lead.phone is not None
    await _refuse(control, BSUID, lead.phone, BSUID)
    message_id = (await send(db, lead.id, text="שלום")).id

    await dispatcher(db, client).drain()

    stored = await _message(db, message_id)
    assert (stored.status, stored.error_code) == ("failed", REFUSED)
    assert await _calls_refused(control) == 2
    assert (await control.outbox())["messages"] == []


async def test_a_lead_known_only_by_its_bsuid_fails_on_131062(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    lead = await make_lead(db, bsuid=BSUID, wrote_at=recently())
    await _refuse(control, BSUID)
    message_id = (await send(db, lead.id, text="שלום")).id

    await dispatcher(db, client).drain()

    stored = await _message(db, message_id)
    assert (stored.status, stored.error_code) == ("failed", REFUSED)
    assert await _calls_refused(control) == 1
