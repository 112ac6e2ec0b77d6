"""Webhook-facing registry updates: status, quality and category changes from Meta.

The webhook processor calls these inside its own transaction. A row is found within the
WABA the webhook came from (the same name lives in the test and the production WABA after
a migration, each with its own status) by name and language, else by Meta's template id
(the simulator numbers its templates afresh on each start, so a name is the safer key).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.alerts import Said, raise_alert, resolve_alerts
from ovenai.columns import utcnow
from ovenai.events import (
    TemplateCategoryUpdate,
    TemplateQualityUpdate,
    TemplateStatusUpdate,
)
from ovenai.models import MessageTemplate

ALERTING_STATUSES = frozenset({"REJECTED", "PAUSED", "DISABLED", "FLAGGED"})
_STATUS_HE = {"REJECTED": "נדחתה", "PAUSED": "מושהית", "DISABLED": "מושבתת", "FLAGGED": "מסומנת"}


TemplateEventT = TemplateStatusUpdate | TemplateQualityUpdate | TemplateCategoryUpdate


async def _find(session: AsyncSession, event: TemplateEventT) -> list[MessageTemplate]:
    """The event's rows in its own WABA: by name and language first, else by Meta's id."""
    in_waba = select(MessageTemplate).where(MessageTemplate.waba_id == event.waba_id)
    if event.name and event.language:
        by_name = in_waba.where(
            MessageTemplate.name == event.name, MessageTemplate.language == event.language
        )
        rows = list(await session.scalars(by_name))
        if rows:
            return rows
    return list(await session.scalars(in_waba.where(MessageTemplate.meta_id == event.template_id)))


async def apply_status_event(session: AsyncSession, event: TemplateStatusUpdate) -> int:
    """Apply a `message_template_status_update`; returns how many registry rows changed."""
    rows = await _find(session, event)
    status = event.event_raw.upper()
    for row in rows:
        row.status = status
        row.meta_id = row.meta_id or event.template_id
        row.rejected_reason = event.rejection_reason or event.reason
        if event.category:
            row.category = event.category.upper()
        row.synced_at = utcnow()
    name = event.name or event.template_id
    if status == "APPROVED":  # back in use: its earlier alerts end
        for earlier in ALERTING_STATUSES:
            await resolve_alerts(session, kind=f"template_{earlier.lower()}:{name}")
    if status in ALERTING_STATUSES:
        because = f": {event.reason}" if event.reason else ""  # Meta's words, as Meta wrote them
        said = Said(
            f"Template {name} is {status}{because}",
            f"התבנית {name} במצב {_STATUS_HE[status]} ({status}){because}",
        )
        await raise_alert(
            session, kind=f"template_{status.lower()}:{name}", severity="warning", said=said
        )
    return len(rows)


async def apply_quality_event(session: AsyncSession, event: TemplateQualityUpdate) -> int:
    """Apply a template quality change; a RED score raises an alert."""
    rows = await _find(session, event)
    quality = (event.new_score_raw or "UNKNOWN").upper()
    for row in rows:
        row.quality = quality
    if quality in ("GREEN", "YELLOW"):  # out of the red: that alert ends
        await resolve_alerts(
            session, kind=f"template_quality_red:{event.name or event.template_id}"
        )
    if quality == "RED":
        name = event.name or event.template_id
        said = Said(
            f"Template {name} has RED quality",
            f"איכות התבנית {name} אדומה (RED): Meta עלולה להשהות אותה",
        )
        await raise_alert(
            session, kind=f"template_quality_red:{name}", severity="warning", said=said
        )
    return len(rows)


async def apply_category_event(session: AsyncSession, event: TemplateCategoryUpdate) -> int:
    """Apply Meta's re-categorisation of a template."""
    rows = await _find(session, event)
    for row in rows:
        if event.new_category:
            row.category = event.new_category.upper()
    return len(rows)
