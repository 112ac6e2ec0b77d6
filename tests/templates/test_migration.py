"""The seed's production migration: export from the test WABA, import into the production
WABA (submitted for review), then sync shows their status there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ovenai import templates
from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.errors import InvalidInput
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio
TEST_WABA = "310000000000001"
PRODUCTION_WABA = "310000000000999"


async def _by_name(db: Database, waba_id: str) -> dict[str, str]:
    return {r.name: r.status for r in await templates.list_templates(db, waba_id=waba_id)}


async def test_the_eight_templates_migrate_from_test_to_production(
    db: Database, client: CloudApiClient, control: SimControl, tmp_path: Path
) -> None:
    file = tmp_path / "templates.json"
    await templates.sync(db, client, TEST_WABA)
    assert await templates.export(db, TEST_WABA, file) == 8

    report = await templates.import_(db, client, file, PRODUCTION_WABA)
    assert len(report.submitted) == 8 and report.skipped == [] and report.refused == []
    assert set((await _by_name(db, PRODUCTION_WABA)).values()) == {"PENDING"}
    assert set((await _by_name(db, TEST_WABA)).values()) == {"APPROVED"}

    await control.review(waba_id=PRODUCTION_WABA)
    assert (await templates.sync(db, client, PRODUCTION_WABA)).updated == 8
    assert await _by_name(db, PRODUCTION_WABA) == await _by_name(db, TEST_WABA)
    source = {
        (r.name, r.language): r.components
        for r in await templates.list_templates(db, waba_id=TEST_WABA)
    }
    target = {
        (r.name, r.language): r.components
        for r in await templates.list_templates(db, waba_id=PRODUCTION_WABA)
    }
    assert target == source


async def test_importing_again_skips_what_the_target_has(
    db: Database, client: CloudApiClient, tmp_path: Path
) -> None:
    file = tmp_path / "templates.json"
    await templates.sync(db, client, TEST_WABA)
    await templates.export(db, TEST_WABA, file)
    await templates.import_(db, client, file, PRODUCTION_WABA)
    again = await templates.import_(db, client, file, PRODUCTION_WABA)
    assert again.submitted == [] and len(again.skipped) == 8
    assert "welcome_new_lead_he (he)" in again.skipped


async def test_the_export_file_holds_definitions_of_approved_templates_only(
    db: Database, client: CloudApiClient, tmp_path: Path
) -> None:
    await templates.sync(db, client, TEST_WABA)
    await templates.submit(
        db, client, "not_yet_he", "he", "UTILITY", [{"type": "BODY", "text": "שלום"}]
    )
    file = tmp_path / "templates.json"
    assert await templates.export(db, TEST_WABA, file) == 8
    document = json.loads(file.read_text(encoding="utf-8"))
    assert document["format"] == "ovenai-templates/1" and document["waba_id"] == TEST_WABA
    welcome = next(t for t in document["templates"] if t["name"] == "welcome_new_lead_he")
    assert welcome == {
        "name": "welcome_new_lead_he",
        "language": "he",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "שלום {{1}}, תודה על פנייתך לגבי הנכס ב{{2}}. "
                "נחזור אליך בהקדם עם פרטים נוספים.",
                "example": {"body_text": [["דנה", "חיפה"]]},
            }
        ],
    }
    assert await templates.export(db, TEST_WABA, file, only_approved=False) == 9


async def test_a_template_meta_refuses_is_reported_and_the_rest_go_through(
    db: Database, client: CloudApiClient, tmp_path: Path
) -> None:
    file = tmp_path / "templates.json"
    good = {"name": "visit_he", "language": "he", "category": "UTILITY"}
    bad = {"name": "bad_he", "language": "he", "category": "UTILITY"}
    body = [
        {
            "type": "BODY",
            "text": "שלום {{1}}, הפגישה שלך אושרה. נתראה בקרוב!",
            "example": {"body_text": [["דנה"]]},
        }
    ]
    footer_only = [{"type": "FOOTER", "text": "OvenAI"}]
    entries = [bad | {"components": footer_only}, good | {"components": body}]
    file.write_text(json.dumps({"templates": entries}), encoding="utf-8")
    report = await templates.import_(db, client, file, PRODUCTION_WABA)
    assert report.submitted == ["visit_he (he)"]
    assert [label for label, _ in report.refused] == ["bad_he (he)"]
    assert await _by_name(db, PRODUCTION_WABA) == {"visit_he": "PENDING"}


async def test_a_malformed_file_names_the_bad_entry(
    db: Database, client: CloudApiClient, tmp_path: Path
) -> None:
    file = tmp_path / "templates.json"
    file.write_text(json.dumps({"templates": [{"name": "x_he", "language": "he"}]}))
    with pytest.raises(InvalidInput) as caught:
        await templates.import_(db, client, file, PRODUCTION_WABA)
    assert caught.value.field == "templates[0].category"
