"""Preferences, template webhooks, other account fields and unknown changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from ovenai.events import (
    AccountEvent,
    IgnoredChange,
    PlatformErrorReport,
    TemplateCategoryUpdate,
    TemplateQualityUpdate,
    TemplateStatusUpdate,
    UnreadableItem,
    UserPreference,
    WebhookEvent,
)
from ovenai.events.enums import MarketingPreference, QualityScore, TemplateEvent
from ovenai.ingest.parse.body_parser import parse_webhook

Events = Callable[[str], list[WebhookEvent]]


def _only(events: list[WebhookEvent]) -> WebhookEvent:
    (event,) = events
    return event


def test_it_reads_a_stop_marketing_preference_with_the_users_identity(events_of: Events) -> None:
    event = _only(events_of("user_preferences_stop.json"))
    assert isinstance(event, UserPreference)
    assert (event.value, event.category) == (MarketingPreference.STOP, "marketing_messages")
    assert (event.user.wa_id, event.user.user_id) == ("972521234567", "IL.5550001112223334445")
    assert event.user.profile_name == "נועה בן דוד"
    assert event.timestamp == datetime(2025, 12, 31, 16, 53, 20, tzinfo=UTC)


def test_it_reads_a_resume_marketing_preference(events_of: Events) -> None:
    event = _only(events_of("user_preferences_resume.json"))
    assert isinstance(event, UserPreference) and event.value is MarketingPreference.RESUME


def test_it_reads_an_approved_template(events_of: Events) -> None:
    event = _only(events_of("template_status_approved.json"))
    assert isinstance(event, TemplateStatusUpdate)
    assert (event.event, event.template_id, event.name, event.language) == (
        TemplateEvent.APPROVED,
        "880000000000077",
        "lead_followup_he",
        "he",
    )
    assert event.time == datetime(2025, 12, 30, 13, 6, 40, tzinfo=UTC)


def test_it_reads_a_rejected_template_with_the_reason(events_of: Events) -> None:
    event = _only(events_of("template_status_rejected.json"))
    assert isinstance(event, TemplateStatusUpdate)
    assert (event.event, event.reason, event.category) == (
        TemplateEvent.REJECTED,
        "INVALID_FORMAT",
        "MARKETING",
    )
    assert event.rejection_recommendation == "Separate parameters with descriptive text."


def test_it_reads_a_template_quality_change(events_of: Events) -> None:
    event = _only(events_of("template_quality_update.json"))
    assert isinstance(event, TemplateQualityUpdate)
    assert (event.previous_score, event.new_score) == (QualityScore.GREEN, QualityScore.YELLOW)


def test_it_reads_a_template_category_change(events_of: Events) -> None:
    event = _only(events_of("template_category_update.json"))
    assert isinstance(event, TemplateCategoryUpdate)
    assert (event.previous_category, event.new_category) == ("UTILITY", "MARKETING")


def test_it_keeps_account_fields_raw_with_their_event(events_of: Events) -> None:
    for name, field, event_name in [
        ("phone_number_quality_update.json", "phone_number_quality_update", "THROUGHPUT_UPGRADE"),
        ("account_update.json", "account_update", "ACCOUNT_RESTRICTION"),
        ("account_alerts.json", "account_alerts", None),
    ]:
        event = _only(events_of(name))
        assert isinstance(event, AccountEvent)
        assert (event.field, event.event) == (field, event_name)
        assert msgspec.json.decode(event.value_json)


def test_it_reads_an_out_of_band_error(events_of: Events) -> None:
    event = _only(events_of("out_of_band_error.json"))
    assert isinstance(event, PlatformErrorReport) and event.error.code == 130429


def test_it_ignores_a_field_it_does_not_handle(events_of: Events) -> None:
    event = _only(events_of("unknown_field.json"))
    assert isinstance(event, IgnoredChange)
    assert (event.object, event.field) == ("whatsapp_business_account", "calls")


def test_it_ignores_another_products_object(events_of: Events) -> None:
    event = _only(events_of("other_object.json"))
    assert isinstance(event, IgnoredChange) and (event.object, event.field) == ("page", None)


def test_it_keeps_a_template_change_it_cannot_read_as_unreadable() -> None:
    body = (
        b'{"object":"whatsapp_business_account","entry":[{"id":"1","time":1767100000,"changes":'
        b'[{"field":"message_template_status_update","value":{"event":["APPROVED"]}}]}]}'
    )
    event = _only(parse_webhook(body))
    assert isinstance(event, UnreadableItem)
    assert (event.field, event.item) == ("message_template_status_update", "change")
    assert '"APPROVED"' in event.raw_json
