"""A lead's tap on a viewing's button, through the real processor: "confirm" confirms the
viewing it names, "cancel" cancels the lead's next one, "another time" leaves it for the
agent; each is logged, a confirmation notifies the lead's agent, and a cancelled viewing is
not reminded."""

from __future__ import annotations

import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from automation.conftest import firings
from automation.test_rules_on_inbound import button_body
from ingest.conftest import Harness
from ovenai import auth, meetings
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.lead_fields import LeadCreate
from ovenai.leads import add_lead
from ovenai.models import Meeting, Notification, Role

pytestmark = pytest.mark.anyio

ZONE = ZoneInfo("Asia/Jerusalem")
CONFIRMED = "הליד אישר/ה את הצפייה בכפתור."


async def viewing(
    db: Database, phone: str, *, in_days: int = 1, agent_id: str | None = None
) -> tuple[str, str]:
    """A lead (of ``agent_id``) and a proposed viewing ``in_days`` from now; (lead id,
    meeting id)."""
    async with db.session() as session:
        data = LeadCreate(name="דנה", phone=phone, want_city="חיפה", assigned_agent_id=agent_id)
        lead = await add_lead(session, db.vault, actor=Actor.system(), data=data)
        await session.commit()
    booked = meetings.MeetingCreate(lead_id=lead.id, starts_at=utcnow() + timedelta(days=in_days))
    meeting = await meetings.create_meeting(db, actor=Actor.system(), data=booked, zone=ZONE)
    return lead.id, meeting.id


async def status_of(db: Database, meeting_id: str) -> str:
    async with db.session() as session:
        found = await session.scalar(select(Meeting.status).where(Meeting.id == meeting_id))
    assert found is not None
    return found


async def tap(harness: Harness, wa_id: str, reply_id: str, title: str) -> None:
    wamid = f"wamid.tap.{time.monotonic_ns()}"
    await harness.deliver(button_body(wamid, reply_id, title, wa_id=wa_id, ts=int(time.time())))


async def test_confirm_cancel_and_another_time(harness: Harness) -> None:
    db = harness.db
    lead, first = await viewing(db, "+972521230010")
    _, second = await viewing(db, "+972521230011", in_days=2)
    await tap(harness, "972521230010", f"viewing_confirm:{first}", "מאשר/ת")
    assert await status_of(db, first) == "confirmed"
    await tap(harness, "972521230010", "viewing_reschedule", "מועד אחר")
    assert await status_of(db, first) == "confirmed"
    await tap(harness, "972521230010", "viewing_cancel", "ביטול")  # the next one: the first
    assert await status_of(db, first) == "cancelled"
    assert await status_of(db, second) == "proposed"  # another lead's viewing
    taps = [(o, d) for key, o, d in await firings(db, lead) if key == "viewing_taps"]
    assert [outcome for outcome, _ in taps] == ["done", "done", "done"]
    assert taps[0][1].endswith("confirmed by the lead")
    assert taps[1][1].startswith("the lead asks for another time than the viewing of ")
    assert taps[2][1].endswith("cancelled by the lead")


async def test_a_tap_naming_another_lead_s_viewing_changes_nothing(harness: Harness) -> None:
    db = harness.db
    _, theirs = await viewing(db, "+972521230012")
    mine, _ = await viewing(db, "+972521230013")
    await tap(harness, "972521230013", f"viewing_confirm:{theirs}", "מאשר/ת")
    assert await status_of(db, theirs) == "proposed"
    [(outcome, detail)] = [(o, d) for k, o, d in await firings(db, mine) if k == "viewing_taps"]
    assert (outcome, detail) == ("skipped", "no upcoming viewing of this lead matches the button")


async def test_a_confirm_tap_confirms_the_viewing_and_notifies_the_lead_s_agent(
    harness: Harness,
) -> None:
    db = harness.db
    agent = await auth.create_user(db, email="rina@agency.co.il", role=Role.AGENT)
    await auth.create_user(db, email="boss@agency.co.il", role=Role.ADMIN)  # not told
    lead, meeting = await viewing(db, "+972521260001", agent_id=agent.id)
    await tap(harness, "972521260001", f"viewing_confirm:{meeting}", "מאשר/ת")
    assert await status_of(db, meeting) == "confirmed"

    async with db.session() as session:
        [told] = list(await session.scalars(select(Notification)))
    assert told.user_id == agent.id
    assert (told.text, told.lead_id, told.read_at) == (CONFIRMED, lead, None)
    logged = {key: (o, d) for key, o, d in await firings(db, lead)}
    assert logged["notify_viewing_confirmed"] == ("done", "notified rina@agency.co.il")
    assert "notify_viewing_cancelled" not in logged
