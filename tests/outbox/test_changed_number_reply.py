"""A user who changed number gets the agent's reply at the new one, through the whole product.

The simulator delivers the lead's messages and Meta's ``system`` message as signed webhooks
to the live server, the agent replies through the API, and a worker sends the reply: the
simulator's outbox shows where it went. The new number is one the phone library cannot
read, so only its WhatsApp id can carry the reply.

The lead writes once more from the new number before the reply: the simulator keeps a
user's 24-hour window per number and BSUID and does not carry it over a number change, so
it would refuse a reply to a number that never wrote (131047).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from tests.outbox.conftest import dispatcher

from ovenai import phones
from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.models import Direction, Lead, Message
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio

OLD = "972521234567"
NEW = "99912345678901"  # a WhatsApp id that is no phone number to the phone library
OLD_BSUID = "IL.5550001112223334445"
NEW_BSUID = "IL.5550009998887776665"

# name: (the lead's BSUID before, what the system message adds, the BSUID of the lead's
# message from the new number, where the reply must go)
CASES: dict[str, tuple[str | None, dict[str, str], str | None, dict[str, str]]] = {
    "no BSUID: to the new wa_id": (None, {}, None, {"to": f"+{NEW}"}),
    "a new BSUID with the change: to it": (
        OLD_BSUID,
        {"user_id": NEW_BSUID},
        NEW_BSUID,
        {"recipient": NEW_BSUID},
    ),
    "the old number's BSUID: never again": (OLD_BSUID, {}, None, {"to": f"+{NEW}"}),
}


async def _inbound_messages(db: Database) -> int:
    async with db.session() as session:
        query = select(func.count()).where(Message.direction == Direction.INBOUND)
        return int(await session.scalar(query) or 0)


async def _lead_writes(db: Database, control: SimControl, **message: Any) -> None:
    """Deliver one message from the lead and wait until the live server applied it."""
    before = await _inbound_messages(db)
    await control.inbound(**message)
    deadline = time.monotonic() + 15
    while await _inbound_messages(db) == before:
        assert time.monotonic() < deadline, "the live server never applied the message"
        await asyncio.sleep(0.05)


def _system(bsuid: str | None, extra: dict[str, str]) -> dict[str, Any]:
    """Meta's ``user_changed_number`` from the old number (``extra``: more of its fields)."""
    change = {"type": "user_changed_number", "wa_id": NEW, **extra}
    change["body"] = f"User Noa changed from {OLD} to {NEW}"
    return {"from": OLD, "user_id": bsuid, "type": "system", "system": change}


async def _only_lead(db: Database) -> str:
    async with db.session() as session:
        found = list(await session.scalars(select(Lead.id)))
    assert len(found) == 1, f"the messages went to {len(found)} leads"
    return found[0]


@pytest.mark.parametrize("case", list(CASES))
async def test_the_reply_goes_to_the_identity_of_the_number_change(
    db: Database,
    server: Any,
    admin: httpx.Client,
    client: CloudApiClient,
    control: SimControl,
    case: str,
) -> None:
    before, announced, later, expected = CASES[case]
    assert phones.from_wa_id(NEW) is None
    await control.config(webhook_url=f"{server.url}{WEBHOOK_PATH}")
    hello = {"type": "text", "text": "שלום, הדירה ברמת גן עוד פנויה?"}
    await _lead_writes(db, control, **{"from": OLD, "user_id": before, **hello})
    await _lead_writes(db, control, **_system(before, announced))
    again = {"type": "text", "text": "זה המספר החדש שלי"}
    await _lead_writes(db, control, **{"from": NEW, "user_id": later, **again})
    lead_id = await _only_lead(db)  # all three in one lead's conversation

    answer = admin.post(f"/api/v1/leads/{lead_id}/messages", json={"text": "כן, מתי נוח לך?"})
    assert answer.status_code == 202, answer.text
    await dispatcher(db, client).drain()

    (sent,) = (await control.outbox())["messages"]
    address = {key: sent["body"][key] for key in ("to", "recipient") if key in sent["body"]}
    assert address == expected
