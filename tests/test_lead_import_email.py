"""A lead's e-mail: sealed at rest, found by its exact address, exported and erased."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ovenai import privacy, privacy_export
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.errors import InvalidInput
from ovenai.lead_fields import LeadCreate, LeadFilter, LeadUpdate
from ovenai.leads import create_lead, list_leads, update_lead
from ovenai.models import Lead

pytestmark = pytest.mark.anyio
SYSTEM = Actor.system()


async def test_an_email_is_sealed_and_found_by_its_exact_address(db: Database) -> None:
    data = LeadCreate(name="דנה", phone="0502345678", email=" Dana.Levi@Example.CO.IL ")
    lead = await create_lead(db, actor=SYSTEM, data=data)
    await create_lead(db, actor=SYSTEM, data=LeadCreate(name="יוסי", phone="0523456789"))
    assert lead.email == "Dana.Levi@example.co.il"
    async with db.session() as session:
        row = await session.scalar(select(Lead).where(Lead.id == lead.id))
        assert row is not None and row.email_enc is not None and row.email_index is not None
        assert b"example" not in row.email_enc

    for query in (
        LeadFilter(email="dana.levi@example.co.il"),
        LeadFilter(q="DANA.LEVI@example.co.il"),
    ):
        found = (await list_leads(db, actor=SYSTEM, filters=query)).items
        assert [each.id for each in found] == [lead.id]
    none = await list_leads(db, actor=SYSTEM, filters=LeadFilter(email="dana@example.co.il"))
    assert none.items == []
    with pytest.raises(InvalidInput, match="e-mail address in full"):
        await list_leads(db, actor=SYSTEM, filters=LeadFilter(q="dana@"))


async def test_an_email_is_changed_and_cleared_by_an_update(db: Database) -> None:
    lead = await create_lead(db, actor=SYSTEM, data=LeadCreate(name="דנה", phone="0502345678"))
    changed = await update_lead(
        db, actor=SYSTEM, lead_id=lead.id, changes=LeadUpdate(email="d@example.com")
    )
    assert changed.email == "d@example.com"
    cleared = await update_lead(db, actor=SYSTEM, lead_id=lead.id, changes=LeadUpdate(email=None))
    assert cleared.email is None
    found = await list_leads(db, actor=SYSTEM, filters=LeadFilter(email="d@example.com"))
    assert found.items == []


def test_what_is_not_an_email_is_refused() -> None:
    for bad in ("dana", "dana@", "@example.com", "dana@example", "a b@example.com"):
        with pytest.raises(ValueError, match="e-mail"):
            LeadCreate(name="דנה", phone="0502345678", email=bad)


async def test_the_email_is_in_the_export_and_gone_after_erasure(db: Database) -> None:
    data = LeadCreate(name="דנה", phone="0502345678", email="dana@example.com")
    lead = await create_lead(db, actor=SYSTEM, data=data)
    document = await privacy_export.gather(db, actor=SYSTEM, lead_id=lead.id)
    subject = document["subject"]
    assert isinstance(subject, dict) and subject["email"] == "dana@example.com"

    await privacy.erase(db, actor=SYSTEM, lead_id=lead.id)

    async with db.session() as session:
        row = await session.scalar(select(Lead).where(Lead.id == lead.id))
        assert row is not None and (row.email_enc, row.email_index) == (None, None)
