"""Importing leads from CSV: headers in Hebrew or English, de-duplication, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from ovenai import lead_import, privacy
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import InvalidInput
from ovenai.lead_fields import LeadCreate, LeadFilter
from ovenai.leads import create_lead, list_leads
from ovenai.models import Lead

pytestmark = pytest.mark.anyio
SYSTEM = Actor.system()


def write(tmp_path: Path, text: str, encoding: str = "utf-8-sig") -> Path:
    path = tmp_path / "leads.csv"
    path.write_bytes(text.encode(encoding))
    return path


async def count(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Lead)) or 0)


async def test_english_headers_and_fields_are_imported(db: Database, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Name,Phone,Language,City,Rooms,Budget,Notes\n"
        "Dana Levi,+972-50-234-5678,English,Haifa,3.5,2000000,wants a balcony\n",
    )
    report = await lead_import.import_leads(db, path=path, actor=SYSTEM)
    assert (report.imported, report.updated, report.rejected) == (1, 0, [])
    [lead] = (await list_leads(db, actor=SYSTEM, filters=LeadFilter())).items
    assert lead.name == "Dana Levi" and lead.language == "en" and lead.source == "import"
    assert str(lead.want_rooms_min) == "3.5" and lead.want_budget_max == 2_000_000


async def test_a_broken_row_in_the_middle_is_rejected_and_the_rest_imported(
    db: Database, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "שם,טלפון\nאבי,0502345678\nשבור,0502345679,עמודה נוספת\n,0502345670\nגלית,0502345671\n",
    )
    report = await lead_import.import_leads(db, path=path, actor=SYSTEM)
    assert report.imported == 2
    assert [line for line, _ in report.rejected] == [3, 4]
    assert "3 fields but the header has 2" in report.rejected[0][1]
    assert report.rejected[1][1] == "column 'שם' (name): a name is required"
    assert await count(db) == 2


async def test_a_phone_already_stored_in_another_format_updates_that_lead(
    db: Database, tmp_path: Path
) -> None:
    await lead_import.import_leads(
        db, path=write(tmp_path, "name,phone\nאבי,0502345678\n"), actor=SYSTEM
    )
    again = write(tmp_path, "name,phone,notes\nאבי כהן,+972 50 234 5678,חזר\n")
    report = await lead_import.import_leads(db, path=again, actor=SYSTEM)
    assert (report.imported, report.updated) == (0, 1)
    [lead] = (await list_leads(db, actor=SYSTEM, filters=LeadFilter())).items
    # Only the empty field is filled: the name stored stays (--overwrite replaces it).
    assert lead.name == "אבי" and lead.notes == "חזר"


async def test_a_windows1255_file_is_read(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "שם,טלפון\nאבי,0502345678\n", encoding="cp1255")
    report = await lead_import.import_leads(db, path=path, actor=SYSTEM)
    assert (report.imported, report.read_as) == (1, "CSV, Windows-1255, comma")
    [lead] = (await list_leads(db, actor=SYSTEM, filters=LeadFilter())).items
    assert lead.name == "אבי"


async def test_a_file_without_a_phone_column_is_refused(db: Database, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="phone column"):
        await lead_import.import_leads(db, path=write(tmp_path, "name,city\nא,ב\n"), actor=SYSTEM)


async def _sealed_columns(db: Database, lead_id: str) -> tuple[bytes | None, ...]:
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        return (lead.name_enc, lead.phone_enc, lead.notes_enc, lead.want_city)


async def test_a_row_for_a_lead_being_erased_is_rejected_and_nothing_written(
    db: Database, tmp_path: Path
) -> None:
    lead = await create_lead(db, actor=SYSTEM, data=LeadCreate(name="אבי", phone="0502345678"))
    await db.vault.key("lead", lead.id)  # this process still holds the key
    # The erasure's first step (privacy.erase_lead): the lead is marked before its key goes.
    async with db.session() as session:
        await session.execute(update(Lead).where(Lead.id == lead.id).values(erased_at=utcnow()))
        await session.commit()
    before = await _sealed_columns(db, lead.id)
    path = write(tmp_path, "name,phone,city,notes\nאבי כהן,+972 50 234 5678,חיפה,חזר\n")
    report = await lead_import.import_leads(db, path=path, actor=SYSTEM)
    assert (report.imported, report.updated) == (0, 0)
    assert report.rejected == [
        (2, f"the lead with this phone ({lead.id}) was erased; the row was not imported")
    ]
    assert await _sealed_columns(db, lead.id) == before


async def test_a_row_for_a_phone_erased_before_makes_a_new_lead_and_the_old_stays_erased(
    db: Database, tmp_path: Path
) -> None:
    lead = await create_lead(db, actor=SYSTEM, data=LeadCreate(name="אבי", phone="0502345678"))
    await privacy.erase(db, actor=SYSTEM, phone="0502345678")
    path = write(tmp_path, "name,phone,notes\nאבי כהן,+972 50 234 5678,חזר\n")
    report = await lead_import.import_leads(db, path=path, actor=SYSTEM)
    assert (report.imported, report.updated, report.rejected) == (1, 0, [])
    assert await _sealed_columns(db, lead.id) == (None, None, None, None)
    [fresh] = (await list_leads(db, actor=SYSTEM, filters=LeadFilter())).items
    assert fresh.id != lead.id and fresh.name == "אבי כהן"
