"""The sandbox's demo agency: a reset empties the business tables and brings back listings,
leads at every stage in both languages, viewings and one greeting bound to fail; it keeps
who may sign in, and it refuses outside sandbox mode."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from ovenai import demo, templates
from ovenai.db import Database
from ovenai.errors import ConfigurationError
from ovenai.models import Lead, Meeting, Message, Property, Role, Stage, User
from ovenai.settings import Settings
from support.dashboard import make_user

pytestmark = pytest.mark.anyio


async def _count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_reset_brings_back_the_demo_and_keeps_the_users(
    db: Database, clean_db: Settings
) -> None:
    sandbox = clean_db.model_copy(update={"sandbox": True})
    make_user(clean_db, "owner@agency.co.il", Role.ADMIN)
    async with db.session() as session:
        await templates.load_seed(session, waba_id=sandbox.whatsapp_business_account_id or "")
        await session.commit()

    first = await demo.reset(db, sandbox)
    async with db.session() as session:
        stages = Counter(await session.scalars(select(Lead.stage)))
        languages = Counter(await session.scalars(select(Lead.language)))
        upcoming = await session.scalar(
            select(func.count()).select_from(Meeting).where(Meeting.status == "confirmed")
        )
        queued = list(await session.scalars(select(Message.template_name)))
    second = await demo.reset(db, sandbox)  # again: the same demo, nothing doubled

    assert first == second
    assert first.leads == len(demo.LEADS) + 1 and first.listings == len(demo.LISTINGS)
    assert set(stages) == {stage.value for stage in Stage}  # every stage of the pipeline
    assert set(languages) == {"he", "en"}
    assert upcoming and first.viewings > upcoming  # upcoming ones, and ones that took place
    assert queued == ["welcome_new_lead_he"]  # the greeting to the lead not on WhatsApp
    assert await _count(db, Lead) == first.leads
    assert await _count(db, Property) == first.listings
    assert await _count(db, User) == 1  # who may sign in stays


async def test_the_scripted_leads_are_the_demo_leads(clean_db: Settings) -> None:
    played = demo.personas(delay_s=2.0)
    assert [p["wa_id"] for p in played] == [lead.wa_id for lead in demo.LEADS]
    assert len({p["wa_id"] for p in played}) == len(played)
    assert all(p["lines"] and p["delay_s"] == 2.0 for p in played)
    assert any("הסר" in p["lines"] for p in played)  # one who opts out, to try it
    assert all(lead.wa_id != demo.UNREACHABLE.wa_id for lead in demo.LEADS)
    assert {lead.language for lead, _text in demo.OPENERS} == {"he", "en"}


async def test_outside_sandbox_mode_there_is_no_demo(db: Database, clean_db: Settings) -> None:
    with pytest.raises(ConfigurationError, match="sandbox"):
        await demo.reset(db, clean_db)
