"""Template listing with cursors, submission, review and the test → production migration."""

from __future__ import annotations

import pytest

from ovenai.cloudapi import CloudApiClient, TemplateStatus
from ovenai.cloudapi import errors as e
from support.simulator_http import SimControl, WebhookReceiver

pytestmark = pytest.mark.anyio
PRODUCTION_WABA = "310000000000999"
BODY = [
    {
        "type": "BODY",
        "text": "Hello {{1}}, see you at {{2}} for the viewing.",
        "example": {"body_text": [["Dana", "10:00"]]},
    }
]


async def test_it_lists_every_template_across_pages(
    client: CloudApiClient, control: SimControl
) -> None:
    templates = await client.list_templates(limit=3)
    assert len(templates) == 8 and len({t.name for t in templates}) == 8
    assert all(t.status is TemplateStatus.APPROVED for t in templates)
    assert {t.language for t in templates} == {"he", "en"}


async def test_a_new_waba_starts_empty(client: CloudApiClient) -> None:
    assert await client.list_templates(waba_id="999000000000001") == []


async def test_a_submitted_template_is_pending_then_approved_with_a_webhook(
    client: CloudApiClient, control: SimControl, receiver: WebhookReceiver
) -> None:
    created = await client.create_template(
        name="visit_confirmed_en", language="en", category="UTILITY", components=BODY
    )
    assert created.status is TemplateStatus.PENDING
    await control.review(name="visit_confirmed_en")
    (post,) = await receiver.wait_for(1)
    entry = post.json()["entry"][0]
    assert entry["id"] == "310000000000001" and isinstance(entry["time"], int)
    change = entry["changes"][0]
    assert change["field"] == "message_template_status_update"
    assert change["value"]["event"] == "APPROVED"
    assert change["value"]["message_template_id"] == int(created.id)
    listed = {t.name: t.status for t in await client.list_templates()}
    assert listed["visit_confirmed_en"] is TemplateStatus.APPROVED


async def test_a_template_is_reviewed_after_the_configured_delay(
    client: CloudApiClient, control: SimControl, receiver: WebhookReceiver
) -> None:
    await control.config(template_review_s=0.05)
    await client.create_template(
        name="please_reject_me", language="en", category="MARKETING", components=BODY
    )
    (post,) = await receiver.wait_for(1)
    value = post.json()["entry"][0]["changes"][0]["value"]
    assert value["event"] == "REJECTED" and value["reason"] == "INVALID_FORMAT"


async def test_a_duplicate_name_and_language_is_refused(client: CloudApiClient) -> None:
    with pytest.raises(e.InvalidParameter) as caught:
        await client.create_template(
            name="welcome_new_lead_he", language="he", category="UTILITY", components=BODY
        )
    assert caught.value.error_subcode == 2388024


async def test_the_seed_templates_migrate_from_test_to_production(
    client: CloudApiClient, control: SimControl
) -> None:
    exported = await client.list_templates()
    for template in exported:
        await client.create_template(waba_id=PRODUCTION_WABA, **template.definition())
    pending = await client.list_templates(waba_id=PRODUCTION_WABA)
    assert {t.status for t in pending} == {TemplateStatus.PENDING}
    await control.review(waba_id=PRODUCTION_WABA)
    migrated = await client.list_templates(waba_id=PRODUCTION_WABA, limit=5)
    assert sorted(t.name for t in migrated) == sorted(t.name for t in exported)
    assert {t.status for t in migrated} == {TemplateStatus.APPROVED}
    assert [t.components for t in migrated] == [t.components for t in exported]


def test_unknown_template_statuses_become_unknown() -> None:
    assert TemplateStatus("SOMETHING_NEW") is TemplateStatus.UNKNOWN
