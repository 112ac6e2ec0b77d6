"""A submitted template is PENDING until Meta reviews it; sync then shows the verdict."""

from __future__ import annotations

import pytest

from ovenai import templates
from ovenai.cloudapi import CloudApiClient
from ovenai.cloudapi.errors import InvalidParameter
from ovenai.db import Database
from ovenai.errors import InvalidInput
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio
TEST_WABA = "310000000000001"


def _components() -> list[dict[str, object]]:
    return templates.build_components(
        "שלום {{1}}, הפגישה שלך ב{{2}} אושרה.", footer="OvenAI", examples=["דנה", "10:00"]
    )


async def _prepare(db: Database, template: str) -> templates.PreparedTemplate:
    async with db.session() as session:
        return await templates.prepare_send(
            session, waba_id=TEST_WABA, template=template, language="he", params=["דנה", "10:00"]
        )


async def test_submit_then_review_then_sync_shows_approved(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    made = await templates.submit(db, client, "visit_confirmed_he", "he", "utility", _components())
    assert (made.status, made.family, made.category) == ("PENDING", "visit_confirmed", "UTILITY")
    assert made.meta_id
    with pytest.raises(templates.TemplateNotApproved):
        await _prepare(db, "visit_confirmed")
    listed = {t.name: t for t in await client.list_templates()}
    assert listed["visit_confirmed_he"].status.value == "PENDING"
    assert listed["visit_confirmed_he"].components[0]["example"] == {
        "body_text": [["דנה", "10:00"]]
    }

    await control.review(name="visit_confirmed_he")
    await templates.sync(db, client, TEST_WABA)
    rows = {r.name: r for r in await templates.list_templates(db, waba_id=TEST_WABA)}
    assert rows["visit_confirmed_he"].status == "APPROVED"
    assert rows["visit_confirmed_he"].meta_id == made.meta_id
    prepared = await _prepare(db, "visit_confirmed")
    assert prepared.rendered == "שלום דנה, הפגישה שלך ב10:00 אושרה.\nOvenAI"


async def test_a_rejected_template_stays_unsendable(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    await templates.submit(db, client, "please_reject_he", "he", "MARKETING", _components())
    await control.review(name="please_reject_he")
    await templates.sync(db, client, TEST_WABA)
    with pytest.raises(templates.TemplateNotApproved) as caught:
        await _prepare(db, "please_reject_he")
    assert caught.value.status == "REJECTED"


@pytest.mark.parametrize(
    ("name", "category", "field"),
    [("Visit Confirmed", "UTILITY", "name"), ("visit_confirmed_he", "PROMO", "category")],
)
async def test_an_invalid_submission_never_reaches_meta(
    db: Database, client: CloudApiClient, name: str, category: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await templates.submit(db, client, name, "he", category, _components())
    assert caught.value.field == field
    assert len(await client.list_templates()) == 8
    assert await templates.list_templates(db) == []


def test_examples_must_match_the_placeholders() -> None:
    with pytest.raises(InvalidInput) as caught:
        templates.build_components("שלום {{1}} ב{{2}}", examples=["דנה"])
    assert caught.value.field == "example"


async def test_meta_refusing_a_duplicate_records_nothing(
    db: Database, client: CloudApiClient
) -> None:
    with pytest.raises(InvalidParameter):
        await templates.submit(db, client, "welcome_new_lead_he", "he", "UTILITY", _components())
    assert await templates.list_templates(db) == []
