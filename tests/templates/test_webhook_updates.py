"""Status, quality and category webhooks update the rows of the WABA they came from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from ovenai import templates
from ovenai.db import Database
from ovenai.events import TemplateQualityUpdate, TemplateStatusUpdate
from ovenai.events.enums import QualityScore, TemplateEvent
from ovenai.models import MessageTemplate

pytestmark = pytest.mark.anyio
TEST_WABA = "310000000000001"
PRODUCTION_WABA = "310000000000999"
AddTemplate = Callable[..., Awaitable[MessageTemplate]]


def _status(waba_id: str, event: str, template_id: str = "880000000000077") -> TemplateStatusUpdate:
    return TemplateStatusUpdate(
        dedupe_key=f"{waba_id}:{event}",
        waba_id=waba_id,
        time=None,
        event=TemplateEvent(event),
        event_raw=event,
        template_id=template_id,
        name="welcome_new_lead_he",
        language="he",
        reason="INVALID_FORMAT" if event == "REJECTED" else None,
    )


async def _statuses(db: Database) -> dict[str, str]:
    return {r.waba_id: r.status for r in await templates.list_templates(db)}


async def test_a_status_webhook_changes_only_its_wabas_row(
    db: Database, add_template: AddTemplate
) -> None:
    await add_template(name="welcome_new_lead_he", waba_id=TEST_WABA, status="APPROVED")
    await add_template(name="welcome_new_lead_he", waba_id=PRODUCTION_WABA, status="PENDING")
    async with db.session() as session:
        changed = await templates.apply_status_event(session, _status(PRODUCTION_WABA, "REJECTED"))
        await session.commit()
    assert changed == 1
    assert await _statuses(db) == {TEST_WABA: "APPROVED", PRODUCTION_WABA: "REJECTED"}


async def test_a_webhook_without_name_finds_the_row_by_metas_id(
    db: Database, add_template: AddTemplate
) -> None:
    await add_template(name="visit_he", meta_id="880000000000123", status="PENDING")
    event = TemplateQualityUpdate(
        dedupe_key="q1",
        waba_id=TEST_WABA,
        time=None,
        template_id="880000000000123",
        previous_score=QualityScore.UNKNOWN,
        previous_score_raw="UNKNOWN",
        new_score=QualityScore.GREEN,
        new_score_raw="GREEN",
    )
    async with db.session() as session:
        assert await templates.apply_quality_event(session, event) == 1
        await session.commit()
    (row,) = await templates.list_templates(db)
    assert row.quality == "GREEN"
