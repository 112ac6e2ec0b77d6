"""Notifications: the lead's agent is told (every active admin when the lead has none), in
their language; each user lists and marks read only their own; with SMTP configured each is
e-mailed once (a loopback SMTP server), without it nothing is sent. (A tap on "confirm"
notifying the agent through the real processor: tests/automation/test_viewing_taps.py.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ovenai import auth, meetings, notifications, privacy
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import NotFound
from ovenai.lead_fields import LeadCreate
from ovenai.leads import add_lead
from ovenai.models import Lead, Notification, Role
from ovenai.settings import Settings
from support.smtp import Inbox, smtp  # noqa: F401  (a fixture these tests use)

pytestmark = pytest.mark.anyio

ZONE = ZoneInfo("Asia/Jerusalem")
CONFIRMED = "הליד אישר/ה את הצפייה בכפתור."


async def assigned_viewing(db: Database, agent_id: str, phone: str) -> tuple[str, str]:
    """A lead of the agent with a proposed viewing tomorrow; (lead id, meeting id)."""
    async with db.session() as session:
        data = LeadCreate(name="דנה", phone=phone, want_city="חיפה", assigned_agent_id=agent_id)
        lead = await add_lead(session, db.vault, actor=Actor.system(), data=data)
        await session.commit()
    booked = meetings.MeetingCreate(lead_id=lead.id, starts_at=utcnow() + timedelta(days=1))
    meeting = await meetings.create_meeting(db, actor=Actor.system(), data=booked, zone=ZONE)
    return lead.id, meeting.id


def as_actor(user: Any) -> Actor:
    return Actor(user_id=user.id, role=Role(user.role), email=user.email)


async def notify(db: Database, lead_id: str) -> list[str]:
    """What the ``notify_agent`` action does, for the lead: the e-mails told."""
    async with db.session() as session:
        found = await session.get(Lead, lead_id)
        assert found is not None
        told = await notifications.notify_lead_agent(
            session, lead=found, texts={"he": CONFIRMED, "en": "Confirmed."}, rule_id=None
        )
        await session.commit()
    return told


async def test_each_user_reads_and_marks_only_their_own(db: Database) -> None:
    agent = await auth.create_user(db, email="rina@agency.co.il", role=Role.AGENT)
    boss = await auth.create_user(db, email="boss@agency.co.il", role=Role.ADMIN)
    lead, _ = await assigned_viewing(db, agent.id, "+972521260004")
    assert await notify(db, lead) == ["rina@agency.co.il"]  # the lead's agent only
    mine = await notifications.list_notifications(
        db, actor=as_actor(agent), query=notifications.NotificationQuery()
    )
    [told] = mine.items
    assert (told.text, told.lead_id, told.read_at) == (CONFIRMED, lead, None)
    assert await notifications.unread_count(db, user_id=agent.id) == 1
    theirs = notifications.NotificationQuery()
    assert (
        await notifications.list_notifications(db, actor=as_actor(boss), query=theirs)
    ).items == []
    with pytest.raises(NotFound):  # not theirs
        await notifications.mark_read(db, actor=as_actor(boss), notification_id=told.id)
    assert await notifications.mark_read(db, actor=as_actor(agent), notification_id=told.id) == 1
    assert await notifications.unread_count(db, user_id=agent.id) == 0
    unread = notifications.NotificationQuery(unread=True)
    assert (
        await notifications.list_notifications(db, actor=as_actor(agent), query=unread)
    ).items == []
    assert await notify(db, lead) == ["rina@agency.co.il"]
    assert await notifications.mark_read(db, actor=as_actor(agent)) == 1  # all at once


async def test_a_lead_without_an_agent_notifies_every_active_admin(db: Database) -> None:
    await auth.create_user(db, email="boss@agency.co.il", role=Role.ADMIN)
    await auth.create_user(db, email="owner@agency.co.il", role=Role.ADMIN)
    await auth.create_user(db, email="rina@agency.co.il", role=Role.AGENT)
    async with db.session() as session:
        data = LeadCreate(name="דנה", phone="+972521260005")
        lead = await add_lead(session, db.vault, actor=Actor.system(), data=data)
        await session.commit()
    assert await notify(db, lead.id) == ["boss@agency.co.il", "owner@agency.co.il"]


async def test_notifications_are_e_mailed_once_when_smtp_is_configured(
    db: Database,
    settings: Settings,
    smtp: tuple[Inbox, int],  # noqa: F811  (the fixture imported above)
) -> None:
    inbox, port = smtp
    agent = await auth.create_user(db, email="rina@agency.co.il", role=Role.AGENT)
    lead, _ = await assigned_viewing(db, agent.id, "+972521260002")
    await notify(db, lead)
    configured = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
    )
    assert await notifications.email_pending(db, configured) == 1
    assert await notifications.email_pending(db, configured) == 0  # once
    [mail] = inbox.messages
    assert (mail["To"], mail["Subject"]) == ("rina@agency.co.il", "[OvenAI] עדכון על ליד")
    body = mail.get_content()
    assert CONFIRMED in body and f"/leads/{lead}" in body
    async with db.session() as session:
        [row] = list(await session.scalars(select(Notification)))
    assert row.email_state == "sent"


async def test_without_smtp_nothing_is_e_mailed(db: Database, settings: Settings) -> None:
    admin = await auth.create_user(db, email="boss@agency.co.il", role=Role.ADMIN)
    lead, _ = await assigned_viewing(db, admin.id, "+972521260003")
    assert await notify(db, lead) == ["boss@agency.co.il"]
    assert (
        await notifications.email_pending(db, settings.model_copy(update={"smtp_host": None})) == 0
    )
    async with db.session() as session:
        assert [row.email_state for row in await session.scalars(select(Notification))] == ["none"]


async def test_erasing_the_lead_removes_its_notifications(db: Database) -> None:
    agent = await auth.create_user(db, email="rina@agency.co.il", role=Role.AGENT)
    lead, _ = await assigned_viewing(db, agent.id, "+972521260006")
    await notify(db, lead)
    await privacy.erase_lead(db, actor=Actor.system(), lead_id=lead)
    assert await notifications.unread_count(db, user_id=agent.id) == 0
