"""From a stranger's webhook to the greeting Meta accepted: the simulator posts the lead's
message, the processor applies it, the default rule queues the welcome, the dispatcher sends
it to the simulator, which answers as Meta does."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from automation.conftest import sent_to
from automation.test_rules_on_inbound import button_body
from ingest.conftest import Harness, text_body
from outbox.conftest import config
from ovenai import meetings
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.models import Lead, Meeting
from ovenai.outbox.bucket_store import DatabaseBuckets
from ovenai.outbox.dispatcher import Dispatcher
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio

ZONE = ZoneInfo("Asia/Jerusalem")


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


async def test_a_proposed_viewing_is_asked_about_with_buttons_and_a_tap_confirms_it(
    harness: Harness,
    client: CloudApiClient,
    control: SimControl,
) -> None:
    db: Database = harness.db
    wa_id = "972529990002"
    said = text_body("wamid.e2e.2", "היי, ראיתי את הדירה בחיפה", wa_id=wa_id, ts=int(time.time()))
    await harness.deliver(said)  # the stranger writes: greeted, and the window is open
    # The simulator (Meta) must know it too: it refuses free-form sends outside the window.
    user = {"from": wa_id, "user_id": "IL.5550001112223334445"}  # text_body's BSUID
    await control.inbound(**user, type="text", text="היי")
    async with db.session() as session:
        [lead] = list(await session.scalars(select(Lead)))
    starts = datetime.now(ZONE).replace(microsecond=0) + timedelta(days=2)
    booked = meetings.MeetingCreate(lead_id=lead.id, starts_at=starts.replace(tzinfo=None))
    meeting = await meetings.create_meeting(db, actor=Actor.system(), data=booked, zone=ZONE)
    await Dispatcher(db, client, DatabaseBuckets(db), config()).drain()

    sent = (await control.outbox())["messages"]
    assert [record["body"]["type"] for record in sent] == ["template", "interactive"]
    asked = sent[1]["body"]["interactive"]
    assert asked["body"]["text"] == (
        f"נקבעה לך צפייה ב-{starts:%d/%m} בשעה {starts:%H:%M}. מתאים לך?"
    )
    replies = [button["reply"] for button in asked["action"]["buttons"]]
    assert replies == [
        {"id": f"viewing_confirm:{meeting.id}", "title": "מאשר/ת"},
        {"id": f"viewing_reschedule:{meeting.id}", "title": "מועד אחר"},
        {"id": f"viewing_cancel:{meeting.id}", "title": "ביטול"},
    ]
    tap = button_body(
        "wamid.e2e.3", replies[0]["id"], replies[0]["title"], wa_id=wa_id, ts=int(time.time())
    )
    await harness.deliver(tap)
    async with db.session() as session:
        status = await session.scalar(select(Meeting.status).where(Meeting.id == meeting.id))
    assert status == "confirmed"
