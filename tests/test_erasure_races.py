"""A write racing an erasure in another process: it lands first and is blanked, or is refused.

Writes lock the lead row and read its erased mark in their own transaction
(`leads.lock_unerased`); the erasure sets that mark before it destroys the key. So no
personal data is ever stored for a lead once its erasure has begun, even by a process whose
cache still holds the lead's key.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from ovenai import privacy
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import Gone
from ovenai.lead_fields import LeadCreate
from ovenai.leads import create_lead, lock_unerased
from ovenai.models import Meeting, Role
from ovenai.sealing import MEETINGS

pytestmark = pytest.mark.anyio

ADMIN = Actor(user_id=None, role=Role.ADMIN, email="owner@agency.co.il")


@pytest.fixture
async def other_process(db: Database) -> AsyncIterator[Database]:
    """Another process's handle on the same databases, with a key cache of its own."""
    other = Database(db.url, db.vault.ring, db.vault.url)
    await other.start()
    yield other
    await other.dispose()


async def test_an_erasure_waits_for_a_write_in_progress_then_blanks_what_it_wrote(
    db: Database, other_process: Database
) -> None:
    lead = await create_lead(db, actor=ADMIN, data=LeadCreate(name="דנה", phone="0521112222"))
    key = await db.vault.key("lead", lead.id)
    async with db.session() as session:
        await lock_unerased(session, lead.id)
        erasing = asyncio.create_task(
            privacy.erase_lead(other_process, actor=ADMIN, lead_id=lead.id)
        )
        await asyncio.sleep(0.5)
        assert not erasing.done()  # the erasure waits for the write that holds the lead
        meeting = Meeting(lead_id=lead.id, starts_at=utcnow() + timedelta(days=1))
        session.add(meeting)
        await session.flush()
        MEETINGS.seal_into(meeting, key, {"notes": "קומה 3"})
        await session.commit()
    report = await erasing
    assert report.meetings == 1
    async with db.session() as session:
        stored = await session.scalar(select(Meeting).where(Meeting.lead_id == lead.id))
        assert stored is not None and stored.notes_enc is None


async def test_a_write_after_the_erasure_is_refused_though_its_process_holds_the_key(
    db: Database, other_process: Database
) -> None:
    lead = await create_lead(db, actor=ADMIN, data=LeadCreate(name="דנה", phone="0521112222"))
    await db.vault.key("lead", lead.id)  # cached here
    await privacy.erase_lead(other_process, actor=ADMIN, lead_id=lead.id)
    async with db.session() as session:
        with pytest.raises(Gone, match="was erased"):
            await lock_unerased(session, lead.id)
