"""Template webhooks and the other account-level fields (Meta: Webhooks › Overview).

Read leniently (:mod:`ovenai.ingest.parse.lenient_json`): a ``message_template_id`` sent as
a string of digits, or an entry ``time`` sent as one, still yields its event.
"""

from __future__ import annotations

import msgspec

from ovenai.events import (
    AccountEvent,
    TemplateCategoryUpdate,
    TemplateQualityUpdate,
    TemplateStatusUpdate,
)
from ovenai.events.enums import QualityScore, TemplateEvent
from ovenai.ingest.parse import change_structs as wire
from ovenai.ingest.parse.change_source import ChangeSource, raw_text
from ovenai.ingest.parse.lenient_json import read


def template_status_event(source: ChangeSource) -> TemplateStatusUpdate:
    """Read a ``message_template_status_update`` change (raises ValidationError if odd)."""
    value = read(source.value, wire.TemplateStatusValue)
    rejection = value.rejection_info or wire.RejectionInfo()
    other = value.other_info or wire.OtherInfo()
    disable_date = None if value.disable_info is None else value.disable_info.disable_date
    return TemplateStatusUpdate(
        dedupe_key=source.key(),
        waba_id=source.waba_id,
        time=source.time,
        event=TemplateEvent.parse(value.event),
        event_raw=value.event,
        template_id=str(value.message_template_id),
        name=value.message_template_name,
        language=value.message_template_language,
        reason=value.reason,
        category=value.message_template_category,
        rejection_reason=rejection.reason,
        rejection_recommendation=rejection.recommendation,
        disable_date=None if disable_date is None else str(disable_date),
        other_info_title=other.title,
        other_info_description=other.description,
    )


def template_quality_event(source: ChangeSource) -> TemplateQualityUpdate:
    """Read a ``message_template_quality_update`` change."""
    value = read(source.value, wire.TemplateQualityValue)
    return TemplateQualityUpdate(
        dedupe_key=source.key(),
        waba_id=source.waba_id,
        time=source.time,
        template_id=str(value.message_template_id),
        previous_score=QualityScore.parse(value.previous_quality_score),
        previous_score_raw=value.previous_quality_score,
        new_score=QualityScore.parse(value.new_quality_score),
        new_score_raw=value.new_quality_score,
        name=value.message_template_name,
        language=value.message_template_language,
    )


def template_category_event(source: ChangeSource) -> TemplateCategoryUpdate:
    """Read a ``template_category_update`` change."""
    value = read(source.value, wire.TemplateCategoryValue)
    return TemplateCategoryUpdate(
        dedupe_key=source.key(),
        waba_id=source.waba_id,
        time=source.time,
        template_id=str(value.message_template_id),
        new_category=value.new_category,
        previous_category=value.previous_category,
        name=value.message_template_name,
        language=value.message_template_language,
    )


def account_event(source: ChangeSource) -> AccountEvent:
    """Keep any other account-level change raw, with its ``event`` when it has one."""
    try:
        event = read(source.value, wire.AccountValue).event
    except msgspec.ValidationError:
        event = None
    return AccountEvent(
        dedupe_key=source.key(),
        waba_id=source.waba_id,
        time=source.time,
        field=source.field,
        event=event,
        value_json=raw_text(source.value),
    )
