"""A lead's consent as agents and the API see and change it (ovenai.lead_consent): the view
and every change are audited, and a change keeps who made it and the words."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select, text, update

from ovenai import audit, lead_consent
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import Gone
from ovenai.lead_fields import LeadCreate
from ovenai.leads import create_lead
from ovenai.models import ConsentEvent, Lead, Role

pytestmark = pytest.mark.anyio

OWNER = Actor(user_id=None, role=Role.ADMIN, email="owner@agency.co.il")


async def _lead(db: Database) -> str:
    data = LeadCreate(name="דנה לוי", phone="+972521234100", opted_in=True, consent_words="כן")
    return (await create_lead(db, actor=OWNER, data=data)).id


async def _audited(db: Database, lead_id: str, action: str) -> list[tuple[object, ...]]:
    async with db.session() as session:
        entries = await audit.about(session, lead_id)
    return [
        (e.actor, e.subject_type, e.subject_id, e.details) for e in entries if e.action == action
    ]


async def test_viewing_a_lead_s_consent_is_audited_unless_the_page_audits_it(
    db: Database,
) -> None:
    lead_id = await _lead(db)
    state = await lead_consent.show(db, actor=OWNER, lead_id=lead_id)
    assert state.lead_id == lead_id and state.may_market
    viewed = ("owner@agency.co.il", "lead", lead_id, {"what": "consent"})
    assert await _audited(db, lead_id, "view") == [viewed]
    # The lead page records its own view, so it asks for none.
    again = await lead_consent.show(db, actor=OWNER, lead_id=lead_id, audited=False)
    assert again == state
    assert await _audited(db, lead_id, "view") == [viewed]


async def test_a_change_keeps_who_made_it_and_the_words_and_is_audited(db: Database) -> None:
    lead_id = await _lead(db)
    opt_out = lead_consent.ConsentChange(action="opt_out", words="ביקשה בטלפון לא לקבל פרסומות")
    state = await lead_consent.change(db, actor=OWNER, lead_id=lead_id, request=opt_out)
    assert state.opted_out and not state.may_market
    entry = state.ledger[-1]
    assert (entry.kind, entry.source, entry.actor, entry.words) == (
        "opt_out",
        "agent",
        "owner@agency.co.il",
        "ביקשה בטלפון לא לקבל פרסומות",
    )
    basis = lead_consent.ConsentChange(action="basis", basis="inquiry_30a", words="להסרה השיבו הסר")
    state = await lead_consent.change(db, actor=OWNER, lead_id=lead_id, request=basis)
    assert (state.marketing_basis, state.ledger[-1].words) == ("inquiry_30a", "להסרה השיבו הסר")
    assert await _audited(db, lead_id, "update") == [
        ("owner@agency.co.il", "lead", lead_id, {"consent": "opt_out", "basis": None}),
        ("owner@agency.co.il", "lead", lead_id, {"consent": "basis", "basis": "inquiry_30a"}),
    ]


async def _waiting_for_a_lock(db: Database) -> int:
    async with db.session() as session:  # a new transaction: pg_stat_activity is read afresh
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(await session.scalar(query) or 0)


async def test_a_change_racing_an_erasure_waits_for_it_and_is_refused(db: Database) -> None:
    """The change locks the lead's row before it reads it, so an erasure under way when it
    starts is seen once it commits: nothing is recorded for an erased lead. (PostgreSQL's row
    lock: on SQLite a writing transaction holds the whole database.)"""
    if not db.url.startswith("postgresql"):
        pytest.skip("a row lock is PostgreSQL's; SQLite locks the whole database")
    lead_id = await _lead(db)
    request = lead_consent.ConsentChange(action="opt_out", words="ביקשה בטלפון")
    async with db.session() as erasing:  # as privacy.erase_lead marks the lead first
        await erasing.execute(update(Lead).where(Lead.id == lead_id).values(erased_at=utcnow()))
        changing = asyncio.create_task(
            lead_consent.change(db, actor=OWNER, lead_id=lead_id, request=request)
        )
        deadline = time.monotonic() + 15
        while not await _waiting_for_a_lock(db):
            assert not changing.done(), "the change did not wait for the erasure's lock"
            assert time.monotonic() < deadline, "the change never waited for the lead's row"
            await asyncio.sleep(0.02)
        await erasing.commit()
    with pytest.raises(Gone, match="was erased"):
        await changing
    async with db.session() as session:
        entries = await session.scalar(
            select(func.count()).select_from(ConsentEvent).where(ConsentEvent.lead_id == lead_id)
        )
    assert entries == 1  # the opt-in the lead was created with, nothing after
