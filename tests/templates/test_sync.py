"""Sync pulls every template of a WABA from Meta (the simulator) into the registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select

from ovenai import templates
from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.models import MessageTemplate
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio
TEST_WABA = "310000000000001"
BIG_WABA = "310000000000555"
AddTemplate = Callable[..., Awaitable[MessageTemplate]]


async def _statuses(db: Database, waba_id: str) -> dict[str, str]:
    return {r.name: r.status for r in await templates.list_templates(db, waba_id=waba_id)}


async def test_sync_brings_in_the_eight_seed_templates(
    db: Database, client: CloudApiClient
) -> None:
    report = await templates.sync(db, client, TEST_WABA)
    assert report == templates.SyncReport(added=8)
    rows = await templates.list_templates(db, waba_id=TEST_WABA)
    assert {r.status for r in rows} == {"APPROVED"}
    assert {r.quality for r in rows} == {"GREEN"}
    assert all(r.meta_id and r.synced_at for r in rows)
    assert {r.family for r in rows} == {
        "welcome_new_lead",
        "property_details",
        "meeting_reminder",
        "followup_interest",
        "document_request",
    }
    assert await templates.sync(db, client, TEST_WABA) == templates.SyncReport(unchanged=8)


async def test_sync_follows_every_page(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    body = [
        {
            "type": "BODY",
            "text": "Hello {{1}}, a new listing is out.",
            "example": {"body_text": [["Dana"]]},
        }
    ]
    for number in range(105):  # more than the 100 of one page
        await client.create_template(
            name=f"listing_{number:03d}_en",
            language="en",
            category="MARKETING",
            components=body,
            waba_id=BIG_WABA,
        )
    await control.review(waba_id=BIG_WABA)
    report = await templates.sync(db, client, BIG_WABA)
    assert report.added == 105
    statuses = await _statuses(db, BIG_WABA)
    assert len(statuses) == 105 and set(statuses.values()) == {"APPROVED"}
    assert "listing_104_en" in statuses


async def test_sync_updates_status_and_category_and_marks_gone_ones(
    db: Database, client: CloudApiClient, add_template: AddTemplate
) -> None:
    await add_template(name="welcome_new_lead_he", status="PENDING", category="MARKETING")
    await add_template(name="old_offer_he", status="APPROVED")
    report = await templates.sync(db, client, TEST_WABA)
    assert report == templates.SyncReport(added=7, updated=1, gone=1)
    rows = {r.name: r for r in await templates.list_templates(db, waba_id=TEST_WABA)}
    assert (rows["welcome_new_lead_he"].status, rows["welcome_new_lead_he"].category) == (
        "APPROVED",
        "UTILITY",
    )
    assert rows["old_offer_he"].status == "DELETED"


async def test_sync_leaves_other_wabas_alone(
    db: Database, client: CloudApiClient, add_template: AddTemplate
) -> None:
    await add_template(name="welcome_new_lead_he", waba_id="310000000000999", status="PENDING")
    await templates.sync(db, client, TEST_WABA)
    assert await _statuses(db, "310000000000999") == {"welcome_new_lead_he": "PENDING"}


async def test_sync_takes_the_quality_meta_reports(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    await templates.sync(db, client, TEST_WABA)
    async with db.session() as session:
        row = await session.scalar(
            select(MessageTemplate).where(MessageTemplate.name == "welcome_new_lead_he")
        )
        assert row is not None
        row.quality = "RED"  # what a quality webhook once said; Meta now lists GREEN
        await session.commit()
    report = await templates.sync(db, client, TEST_WABA)
    assert report.updated == 1
    rows = {r.name: r.quality for r in await templates.list_templates(db, waba_id=TEST_WABA)}
    assert rows["welcome_new_lead_he"] == "GREEN"
