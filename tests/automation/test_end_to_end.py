"""From a stranger's webhook to the greeting Meta accepted: the simulator posts the lead's
message, the processor applies it, the default rule queues the welcome, the dispatcher sends
it to the simulator, which answers as Meta does."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from automation.conftest import sent_to
from ingest.conftest import Harness, text_body
from outbox.conftest import config
from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.models import Lead
from ovenai.outbox.bucket_store import DatabaseBuckets
from ovenai.outbox.dispatcher import Dispatcher
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio


async def test_a_stranger_s_hebrew_message_is_answered_by_the_welcome_template_meta_accepts(
    harness: Harness,
    client: CloudApiClient,
    control: SimControl,
) -> None:
    body = text_body(
        "wamid.e2e.1", "היי, ראיתי את הדירה בתל אביב", wa_id="972529990001", ts=int(time.time())
    )
    await harness.deliver(body)
    db: Database = harness.db
    await Dispatcher(db, client, DatabaseBuckets(db), config()).drain()
    async with db.session() as session:
        [lead] = list(await session.scalars(select(Lead)))
    [(row, _)] = await sent_to(db, lead.id)
    assert (row.status, row.template_name) == ("sent", "welcome_new_lead_he")
    [accepted] = (await control.outbox())["messages"]
    template = accepted["body"]["template"]
    assert (template["name"], template["language"]["code"]) == ("welcome_new_lead_he", "he")
    params = [p["text"] for p in template["components"][0]["parameters"]]
    assert params == ["Noa", "תל אביב"]
    sent = accepted["body"]
    assert sent.get("to", sent.get("recipient")) in ("972529990001", "IL.5550001112223334445")
    assert row.wa_message_id == accepted["id"]
