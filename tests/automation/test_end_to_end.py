"""From a stranger's webhook to the greeting Meta accepted: the simulator posts the lead's
message, the processor applies it, the default rule queues the welcome, the dispatcher sends
it to the simulator, which answers as Meta does."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import ovenai
from automation.conftest import sent_to
from automation.test_rules_on_inbound import button_body
from ingest.conftest import WABA, Harness, envelope, text_body
from outbox.conftest import config
from ovenai import meetings, templates
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.lead_fields import LeadCreate
from ovenai.leads import add_lead
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


PROPOSAL = Path(ovenai.__file__).parent / "data" / "viewing_proposal.json"


def template_tap_body(wamid: str, payload: str, text: str, *, wa_id: str, ts: int) -> bytes:
    """A tap on a template's quick-reply button (Meta's ``button`` message)."""
    message = {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(ts),
        "type": "button",
        "button": {"payload": payload, "text": text},
    }
    contact = {"profile": {"name": "Dana"}, "wa_id": wa_id}
    return envelope({"contacts": [contact], "messages": [message]})


async def _proposal_templates(db: Database, client: CloudApiClient, control: SimControl) -> None:
    """The shipped viewing_proposal drafts, approved at the simulator and in the registry."""
    for definition in templates.read_export(PROPOSAL):
        await client.create_template(
            name=definition.name,
            language=definition.language,
            category=definition.category,
            components=definition.components,
        )
        await control.review(name=definition.name, status="APPROVED")
    await templates.sync(db, client, WABA)


async def test_outside_the_window_a_proposed_viewing_goes_as_a_template_whose_tap_confirms_it(
    harness: Harness,
    client: CloudApiClient,
    control: SimControl,
) -> None:
    db: Database = harness.db
    await _proposal_templates(db, client, control)
    data = LeadCreate(name="דנה", phone="+972529990003", language="he", opted_in=True)
    async with db.session() as session:
        lead = await add_lead(session, db.vault, actor=Actor.system(), data=data)
        await session.commit()
    starts = datetime.now(ZONE).replace(microsecond=0) + timedelta(days=2)
    booked = meetings.MeetingCreate(lead_id=lead.id, starts_at=starts.replace(tzinfo=None))
    meeting = await meetings.create_meeting(db, actor=Actor.system(), data=booked, zone=ZONE)
    await Dispatcher(db, client, DatabaseBuckets(db), config()).drain()

    [proposal] = [
        record["body"]["template"]
        for record in (await control.outbox())["messages"]
        if record["body"]["type"] == "template"
        and record["body"]["template"]["name"] == "viewing_proposal_he"
    ]
    body = next(c for c in proposal["components"] if c["type"] == "body")
    assert [p["text"] for p in body["parameters"]] == ["דנה", f"{starts:%d/%m %H:%M}"]
    buttons = [c for c in proposal["components"] if c["type"] == "button"]
    assert [(b["sub_type"], b["index"], b["parameters"][0]["payload"]) for b in buttons] == [
        ("quick_reply", "0", f"viewing_confirm:{meeting.id}"),
        ("quick_reply", "1", f"viewing_reschedule:{meeting.id}"),
        ("quick_reply", "2", f"viewing_cancel:{meeting.id}"),
    ]
    tap = template_tap_body(
        "wamid.e2e.4",
        f"viewing_confirm:{meeting.id}",
        "מאשר/ת",
        wa_id="972529990003",
        ts=int(time.time()),
    )
    await harness.deliver(tap)
    async with db.session() as session:
        status = await session.scalar(select(Meeting.status).where(Meeting.id == meeting.id))
    assert status == "confirmed"
