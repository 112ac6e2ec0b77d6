"""Template status/quality/category updates reach the registry; account news raises alerts."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from ovenai.alerts import open_alerts
from ovenai.models import MessageTemplate, WebhookEvent

pytestmark = pytest.mark.anyio


async def add_template(db, name: str, language: str) -> None:
    async with db.session() as session:
        session.add(
            MessageTemplate(
                waba_id="310000000000001",
                name=name,
                language=language,
                family=name,
                category="MARKETING",
                status="PENDING",
                components=[],
            )
        )
        await session.commit()


async def templates(db) -> list[MessageTemplate]:
    async with db.session() as session:
        return list(await session.scalars(select(MessageTemplate)))


async def alerts(db) -> list[str]:
    async with db.session() as session:
        return [alert.kind for alert in await open_alerts(session)]


async def messages(db) -> list[tuple[str, str | None]]:
    async with db.session() as session:
        return [(alert.message, alert.message_he) for alert in await open_alerts(session)]


async def test_a_rejection_reaches_the_registry_and_alerts(harness, load_payload, db) -> None:
    await add_template(db, "open_house_invite", "en_US")
    await harness.deliver(load_payload("template_status_rejected.json"))
    (template,) = await templates(db)
    assert template.status == "REJECTED"
    assert any(kind.startswith("template_rejected") for kind in await alerts(db))
    [(english, hebrew)] = await messages(db)
    assert english.startswith("Template open_house_invite is REJECTED")
    assert hebrew.startswith("התבנית open_house_invite במצב נדחתה (REJECTED)")


async def test_quality_and_category_updates_reach_the_registry(harness, load_payload, db):
    await add_template(db, "lead_followup_he", "he")
    await harness.deliver(load_payload("template_quality_update.json"))
    await harness.deliver(load_payload("template_category_update.json"))
    (template,) = await templates(db)
    assert template.quality is not None and template.quality != "UNKNOWN"
    assert all(event.status == "processed" for event in await harness.events())


@pytest.mark.parametrize(
    "fixture", ["account_update.json", "phone_number_quality_update.json", "account_alerts.json"]
)
async def test_account_news_raises_an_alert(harness, load_payload, db, fixture) -> None:
    await harness.deliver(load_payload(fixture))
    assert await alerts(db)


async def test_an_out_of_band_error_raises_an_alert(harness, load_payload, db) -> None:
    await harness.deliver(load_payload("out_of_band_error.json"))
    assert any(kind.startswith("whatsapp_error:") for kind in await alerts(db))
    [(english, hebrew)] = await messages(db)
    assert english.startswith("WhatsApp reported error")
    assert hebrew.startswith("WhatsApp דיווחה על שגיאה")


@pytest.mark.parametrize("fixture", ["other_object.json", "unknown_field.json"])
async def test_other_objects_and_fields_are_kept_and_ignored(harness, load_payload, fixture):
    await harness.deliver(load_payload(fixture))  # the live server may be the one applying it
    async with harness.db.session() as session:
        events = (await session.execute(select(WebhookEvent.status, WebhookEvent.error))).all()
    assert [tuple(event) for event in events] == [("processed", None)]
    assert await harness.leads() == []


def _changed(raw: bytes, at: int, **value: object) -> bytes:
    """A recorded body with its change's value altered and its own time."""
    body = json.loads(raw)
    entry = body["entry"][0]
    entry["time"] = at
    entry["changes"][0]["value"].update(value)
    return json.dumps(body).encode()


async def test_a_number_unflagged_ends_its_flagged_alert_and_an_upgrade_its_downgrade(
    harness, load_payload, db
) -> None:
    raw = load_payload("phone_number_quality_update.json")
    await harness.deliver(_changed(raw, 1767100401, event="FLAGGED"))
    await harness.deliver(_changed(raw, 1767100402, event="DOWNGRADE", current_limit="TIER_250"))
    assert set(await alerts(db)) >= {
        "phone_number_quality_update:FLAGGED",
        "phone_number_quality_update:DOWNGRADE",
    }
    await harness.deliver(_changed(raw, 1767100403, event="UNFLAGGED"))
    left = await alerts(db)
    assert "phone_number_quality_update:FLAGGED" not in left
    assert "phone_number_quality_update:DOWNGRADE" in left  # a lower limit still holds
    await harness.deliver(_changed(raw, 1767100404, event="UPGRADE", current_limit="TIER_2K"))
    assert "phone_number_quality_update:DOWNGRADE" not in await alerts(db)


async def test_a_template_out_of_the_red_or_approved_again_ends_its_alert(
    harness, load_payload, db
) -> None:
    await add_template(db, "lead_followup_he", "he")
    raw = load_payload("template_quality_update.json")
    await harness.deliver(_changed(raw, 1767100501, new_quality_score="RED"))
    assert "template_quality_red:lead_followup_he" in await alerts(db)
    await harness.deliver(_changed(raw, 1767100502, new_quality_score="GREEN"))
    assert "template_quality_red:lead_followup_he" not in await alerts(db)

    await add_template(db, "open_house_invite", "en_US")
    rejected = load_payload("template_status_rejected.json")
    await harness.deliver(rejected)
    assert any(kind.startswith("template_rejected:") for kind in await alerts(db))
    await harness.deliver(_changed(rejected, 1767100601, event="APPROVED", reason=None))
    assert not any(kind.startswith("template_rejected:") for kind in await alerts(db))
