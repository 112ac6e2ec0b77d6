"""Viewings and time: a booked viewing moves the stage; the reminder leaves the day before
at the set hour, once, with the time as people write it, never for a cancelled viewing and
never late (it says "tomorrow"); a passed viewing moves the stage on and brings the
follow-up, in the lead's language or with the reason it could not."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from automation.conftest import firings, sent_to
from ovenai import meetings
from ovenai.auth import Actor
from ovenai.automation.engine import Setup
from ovenai.automation.timed import run_timed
from ovenai.db import Database
from ovenai.lead_fields import LeadCreate
from ovenai.leads import add_lead
from ovenai.models import Lead, Meeting
from ovenai.settings import Settings

pytestmark = pytest.mark.anyio

ZONE = ZoneInfo("Asia/Jerusalem")
MONDAY = datetime(2026, 12, 7, tzinfo=ZONE)  # the viewings are on Tuesday the 8th


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute)


async def lead_with_viewing(
    db: Database,
    starts: datetime,
    *,
    phone: str,
    language: str = "he",
    status: str = "confirmed",
) -> tuple[str, str]:
    """A lead (added as an agent adds one: no greeting; opted in, so the follow-up, a
    marketing template, may go: ovenai.consent) and a viewing booked for them."""
    async with db.session() as session:
        name, town = ("Dana", "Haifa") if language == "en" else ("דנה", "חיפה")
        data = LeadCreate(name=name, phone=phone, language=language, want_city=town, opted_in=True)
        lead = await add_lead(session, db.vault, actor=Actor.system(), data=data)
        await session.commit()
    booked = meetings.MeetingCreate(
        lead_id=lead.id, starts_at=starts.replace(tzinfo=None), status=status
    )
    meeting = await meetings.create_meeting(db, actor=Actor.system(), data=booked, zone=ZONE)
    return lead.id, meeting.id


async def stage_of(db: Database, lead_id: str) -> str:
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        return lead.stage


async def test_a_viewing_is_reminded_the_day_before_at_six_once(
    automated: Database, automation_settings: Settings
) -> None:
    setup = Setup.from_settings(automation_settings, automated.vault)
    with time_machine.travel(at(MONDAY, 12), tick=False):
        lead, viewing = await lead_with_viewing(
            automated, at(MONDAY + timedelta(days=1), 10, 30), phone="+972521230001"
        )
        cancelled, _ = await lead_with_viewing(
            automated,
            at(MONDAY + timedelta(days=1), 11),
            phone="+972521230002",
            status="cancelled",
        )
        later, _ = await lead_with_viewing(
            automated, at(MONDAY + timedelta(days=2), 10), phone="+972521230003"
        )
    assert await stage_of(automated, lead) == "viewing_scheduled"  # the booking moved it
    with time_machine.travel(at(MONDAY, 17, 59), tick=False):
        assert (await run_timed(automated, setup)).sent == 0
    with time_machine.travel(at(MONDAY, 18, 0), tick=False):
        assert (await run_timed(automated, setup)).sent == 1
    with time_machine.travel(at(MONDAY, 21, 0), tick=False):
        assert (await run_timed(automated, setup)).sent == 0  # once
    [(row, opened)] = await sent_to(automated, lead)
    assert (row.template_name, opened.template_params) == ("meeting_reminder_he", ["דנה", "10:30"])
    assert opened.text is not None and "מחר ב10:30" in opened.text
    for other in (cancelled, later):
        assert await sent_to(automated, other) == []
    async with automated.session() as session:
        reminded = await session.scalar(
            select(Meeting.reminder_sent_at).where(Meeting.id == viewing)
        )
    assert reminded == at(MONDAY, 18, 0)


async def test_a_reminder_missed_in_the_evening_is_not_sent_on_the_day(
    automated: Database, automation_settings: Settings
) -> None:
    setup = Setup.from_settings(automation_settings, automated.vault)
    tuesday = MONDAY + timedelta(days=1)
    with time_machine.travel(at(MONDAY, 9), tick=False):
        lead, _ = await lead_with_viewing(automated, at(tuesday, 17), phone="+972521230004")
    with time_machine.travel(at(tuesday, 8), tick=False):  # the worker was down all evening
        assert (await run_timed(automated, setup)).fired == 0
    assert await sent_to(automated, lead) == []


async def test_a_passed_viewing_moves_the_stage_and_brings_the_follow_up(
    automated: Database, automation_settings: Settings
) -> None:
    setup = Setup.from_settings(automation_settings, automated.vault)
    with time_machine.travel(at(MONDAY, 9), tick=False):
        hebrew, _ = await lead_with_viewing(automated, at(MONDAY, 10), phone="+972521230005")
        english, _ = await lead_with_viewing(
            automated, at(MONDAY, 10), phone="+972521230006", language="en"
        )
    with time_machine.travel(at(MONDAY, 11, 10), tick=False):  # ended 10:30, +40 min
        await run_timed(automated, setup)
    assert await stage_of(automated, hebrew) == "viewing_scheduled"
    with time_machine.travel(at(MONDAY, 11, 31), tick=False):
        await run_timed(automated, setup)
    assert await stage_of(automated, hebrew) == "viewing_done"
    with time_machine.travel(at(MONDAY, 13, 31), tick=False):
        await run_timed(automated, setup)
        await run_timed(automated, setup)
    [(row, opened)] = await sent_to(automated, hebrew)
    assert row.template_name == "followup_interest_he"
    assert await sent_to(automated, english) == []
    logged = {key: (outcome, detail) for key, outcome, detail in await firings(automated, english)}
    assert logged["follow_up_after_viewing"] == (
        "skipped",
        "not sent: template followup_interest does not exist in language en",
    )
    assert logged["viewing_passed_stage"] == ("done", "stage viewing_scheduled → viewing_done")
