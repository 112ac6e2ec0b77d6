"""The template registry: Meta's approved templates, grouped into language families.

On Meta each language of a template is a template of its own (`welcome_new_lead_he`,
`welcome_new_lead_en`); OvenAI groups them into one family (`welcome_new_lead`). This
module keeps the registry in step with Meta: webhook status and quality changes arrive
through :func:`apply_status_event` and :func:`apply_quality_event`.
"""

from __future__ import annotations

import re

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.alerts import raise_alert
from ovenai.db import utcnow
from ovenai.models import MessageTemplate
from ovenai.webhooks.events import (
    TemplateCategoryUpdate,
    TemplateQualityUpdate,
    TemplateStatusUpdate,
)

_LANGUAGE_SUFFIX = re.compile(r"_(he|en|iw|en_US|en_GB|he_IL)$")
ALERTING_STATUSES = frozenset({"REJECTED", "PAUSED", "DISABLED", "FLAGGED"})


def family_of(name: str) -> str:
    """The family a Meta template name belongs to (its name without a language suffix)."""
    return _LANGUAGE_SUFFIX.sub("", name)


async def _find(
    session: AsyncSession, *, template_id: str, name: str | None, language: str | None
) -> list[MessageTemplate]:
    by_name = (
        (MessageTemplate.name == name) & (MessageTemplate.language == language)
        if name and language
        else None
    )
    condition = MessageTemplate.meta_id == template_id
    if by_name is not None:
        condition = or_(condition, by_name)
    return list(await session.scalars(select(MessageTemplate).where(condition)))


async def apply_status_event(session: AsyncSession, event: TemplateStatusUpdate) -> int:
    """Apply a `message_template_status_update`; returns how many registry rows changed."""
    rows = await _find(
        session, template_id=event.template_id, name=event.name, language=event.language
    )
    status = event.event_raw.upper()
    for row in rows:
        row.status = status
        row.meta_id = row.meta_id or event.template_id
        row.rejected_reason = event.rejection_reason or event.reason
        if event.category:
            row.category = event.category.upper()
        row.synced_at = utcnow()
    if status in ALERTING_STATUSES:
        await raise_alert(
            session,
            kind=f"template_{status.lower()}:{event.name or event.template_id}",
            severity="warning",
            message=f"Template {event.name or event.template_id} is {status}"
            + (f": {event.reason}" if event.reason else ""),
        )
    return len(rows)


async def apply_quality_event(session: AsyncSession, event: TemplateQualityUpdate) -> int:
    """Apply a template quality change; a RED score raises an alert."""
    rows = await _find(
        session, template_id=event.template_id, name=event.name, language=event.language
    )
    quality = (event.new_score_raw or "UNKNOWN").upper()
    for row in rows:
        row.quality = quality
    if quality == "RED":
        await raise_alert(
            session,
            kind=f"template_quality_red:{event.name or event.template_id}",
            severity="warning",
            message=f"Template {event.name or event.template_id} has RED quality",
        )
    return len(rows)


async def apply_category_event(session: AsyncSession, event: TemplateCategoryUpdate) -> int:
    """Apply Meta's re-categorisation of a template."""
    rows = await _find(
        session, template_id=event.template_id, name=event.name, language=event.language
    )
    for row in rows:
        if event.new_category:
            row.category = event.new_category.upper()
    return len(rows)
