"""Importing a file again: only empty fields are filled unless --overwrite, an agent's stage,
agent and notes are never touched, a dry run writes nothing and says what would change."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from ovenai import auth, lead_import
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.lead_fields import LeadFilter, LeadUpdate
from ovenai.leads import LeadRecord, list_leads, update_lead
from ovenai.models import AuditEntry, Lead, Role
from ovenai.models.base import Stage

pytestmark = pytest.mark.anyio
SYSTEM = Actor.system()
FIRST = "שם,טלפון,עיר,הערות\nדנה לוי,050-234-5678,חיפה,\n"
AGAIN = (
    "שם,טלפון,עיר,אימייל,תקציב,סטטוס,הערות\n"
    "דנה כהן,+972 50 234 5678,תל אביב,dana@example.com,2.8M,נוצר קשר,מהקובץ\n"
)


def write(tmp_path: Path, text: str, name: str = "leads.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def only_lead(db: Database) -> LeadRecord:
    [lead] = (await list_leads(db, actor=SYSTEM, filters=LeadFilter())).items
    return lead


async def test_a_reimport_fills_only_empty_fields(db: Database, tmp_path: Path) -> None:
    await lead_import.import_leads(db, path=write(tmp_path, FIRST), actor=SYSTEM)
    report = await lead_import.import_leads(db, path=write(tmp_path, AGAIN), actor=SYSTEM)
    assert (report.imported, report.updated) == (0, 1)
    assert report.results[0].fields == ("email", "notes", "want_budget_max")
    lead = await only_lead(db)
    assert (lead.name, lead.want_city, lead.stage) == ("דנה לוי", "חיפה", "new")
    assert (lead.email, lead.want_budget_max, lead.notes) == (
        "dana@example.com",
        2_800_000,
        "מהקובץ",
    )
    same = await lead_import.import_leads(db, path=write(tmp_path, AGAIN), actor=SYSTEM)
    assert (same.updated, same.unchanged) == (0, 1)


async def test_overwrite_replaces_the_stored_values(db: Database, tmp_path: Path) -> None:
    await lead_import.import_leads(db, path=write(tmp_path, FIRST), actor=SYSTEM)
    report = await lead_import.import_leads(
        db, path=write(tmp_path, AGAIN), actor=SYSTEM, overwrite=True
    )
    assert report.updated == 1
    lead = await only_lead(db)
    assert (lead.name, lead.want_city, lead.stage, lead.notes) == (
        "דנה כהן",
        "תל אביב",
        "contacted",
        "מהקובץ",
    )


async def test_an_agents_stage_and_notes_survive_even_overwrite(
    db: Database, tmp_path: Path
) -> None:
    user = await auth.create_user(db, email="agent@example.co.il", role=Role.AGENT)
    agent = Actor(user_id=user.id, role=Role.AGENT, email=user.email)
    await lead_import.import_leads(db, path=write(tmp_path, FIRST), actor=SYSTEM)
    lead = await only_lead(db)
    changes = LeadUpdate(stage=Stage.NEGOTIATION, notes="רוצה לראות שוב ביום ג׳")
    await update_lead(db, actor=agent, lead_id=lead.id, changes=changes)

    report = await lead_import.import_leads(
        db, path=write(tmp_path, AGAIN), actor=SYSTEM, overwrite=True
    )

    assert report.results[0].fields == ("email", "name", "want_budget_max", "want_city")
    lead = await only_lead(db)
    assert (lead.stage, lead.notes) == ("negotiation", "רוצה לראות שוב ביום ג׳")
    assert (lead.name, lead.want_city) == ("דנה כהן", "תל אביב")


async def test_a_dry_run_reports_every_row_and_writes_nothing(db: Database, tmp_path: Path) -> None:
    await lead_import.import_leads(db, path=write(tmp_path, FIRST), actor=SYSTEM)
    text = AGAIN + "יוסי,0523456789,,,,,\nיוסי שוב,052-345-6789,,yossi@example.com,,,\nרע,12,,,,,\n"
    path = write(tmp_path, text)
    async with db.session() as session:
        before = await session.scalar(select(func.count()).select_from(Lead))

    report = await lead_import.import_leads(db, path=path, actor=SYSTEM, dry_run=True)

    assert [result.line() for result in report.results] == [
        "row 2: updated (email, notes, want_budget_max)",
        "row 3: new",
        "row 4: updated (email)",
        "row 5: rejected: column 'טלפון' (phone): not a valid phone number (a value of 2 digits)",
    ]
    assert report.summary() == "would import 1, would update 2, unchanged 0, rejected 1"
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Lead)) == before
    lead = await only_lead(db)
    assert lead.email is None and lead.want_budget_max is None


async def test_an_agent_imports_only_into_leads_they_may_see(db: Database, tmp_path: Path) -> None:
    owner = await auth.create_user(db, email="owner@example.co.il", role=Role.AGENT)
    other = await auth.create_user(db, email="other@example.co.il", role=Role.AGENT)
    as_owner = Actor(user_id=owner.id, role=Role.AGENT, email=owner.email)
    as_other = Actor(user_id=other.id, role=Role.AGENT, email=other.email)
    first = await lead_import.import_leads(db, path=write(tmp_path, FIRST), actor=as_owner)
    assert first.imported == 1
    assert (await only_lead(db)).assigned_agent_id == owner.id

    report = await lead_import.import_leads(db, path=write(tmp_path, AGAIN), actor=as_other)

    assert report.rejected == [(2, "this phone number cannot be used for this lead; ask an admin")]
    assert (await only_lead(db)).email is None
    async with db.session() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions == ["import"]  # the owner's import of the new lead, by its id only
