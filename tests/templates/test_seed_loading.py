"""Sandbox mode loads the eight seed templates once, whatever happens afterwards."""

from __future__ import annotations

import pytest

from ovenai import sandbox, templates
from ovenai.db import Database

pytestmark = pytest.mark.anyio
WABA = "200000000000001"


async def test_the_eight_seed_templates_are_loaded_as_the_seed_has_them(db: Database) -> None:
    assert await sandbox.ensure_seed_templates(db, waba_id=WABA) == 8
    rows = await templates.list_templates(db, waba_id=WABA)
    assert sorted((r.family, r.language) for r in rows) == [
        ("document_request", "he"),
        ("followup_interest", "he"),
        ("meeting_reminder", "en"),
        ("meeting_reminder", "he"),
        ("property_details", "en"),
        ("property_details", "he"),
        ("welcome_new_lead", "en"),
        ("welcome_new_lead", "he"),
    ]
    welcome = next(r for r in rows if r.name == "welcome_new_lead_he")
    assert (welcome.category, welcome.status, welcome.parameter_format) == (
        "UTILITY",
        "APPROVED",
        "POSITIONAL",
    )
    assert welcome.components[0]["text"].startswith("שלום {{1}}, תודה על פנייתך")


async def test_loading_again_adds_nothing_and_keeps_later_changes(db: Database) -> None:
    await sandbox.ensure_seed_templates(db, waba_id=WABA)
    async with db.session() as session:
        (row,) = [
            r
            for r in await templates.list_templates(db, waba_id=WABA)
            if r.name == "meeting_reminder_en"
        ]
        row = await session.merge(row)
        row.status = "PAUSED"
        await session.commit()
    assert await sandbox.ensure_seed_templates(db, waba_id=WABA) == 0
    rows = await templates.list_templates(db, waba_id=WABA)
    assert len(rows) == 8
    assert {r.name: r.status for r in rows}["meeting_reminder_en"] == "PAUSED"


async def test_each_waba_gets_its_own_copy(db: Database) -> None:
    await sandbox.ensure_seed_templates(db, waba_id=WABA)
    assert await sandbox.ensure_seed_templates(db, waba_id="200000000000002") == 8
    assert len(await templates.list_templates(db)) == 16
