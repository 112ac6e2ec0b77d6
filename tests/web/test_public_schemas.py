"""The REST API's public shapes: derived from the domain records, never dropping a field.

The recorded lists below ARE the contract clients rely on: each public schema's fields, in
order, with their JSON types, and the schema each route answers with. A field added to a
record reaches its public schema by itself (see ovenai.web.api.schemas), so it makes the
first test fail until it is recorded here, or named private beside its schema.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from ovenai.conversations import MessageError, MessageRecord
from ovenai.leads import LeadRecord
from ovenai.web.api.schemas import (
    LeadPublic,
    MessageDetailPublic,
    MessagePublic,
    answer,
    public_model,
)

ISRAEL = ZoneInfo("Asia/Jerusalem")
WINTER_MORNING = datetime(2026, 12, 24, 8, 0, tzinfo=UTC)  # 10:00 in Israel

LEAD_FIELDS = (
    "id: string",
    "name: string | null",
    "phone: string | null",
    "bsuid: string | null",
    "wa_id: string | null",
    "username: string | null",
    "profile_name: string | null",
    "notes: string | null",
    "email: string | null",
    "language: string",
    "source: string",
    "stage: string",
    "assigned_agent_id: string | null",
    "property_id: string | null",
    "want_city: string | null",
    "want_area: string | null",
    "want_rooms_min: number | null",
    "want_rooms_max: number | null",
    "want_size_min: integer | null",
    "want_budget_min: integer | null",
    "want_budget_max: integer | null",
    "engagement_score: integer",
    "opted_in_at: date-time | null",
    "opt_in_source: string | null",
    "opted_out_at: date-time | null",
    "marketing_basis: string | null",
    "last_inbound_at: date-time | null",
    "created_at: date-time",
    "updated_at: date-time",
)
MESSAGE_FIELDS = (
    "id: string",
    "direction: string",
    "type: string",
    "text: string | null",
    "template: string | null",
    "template_language: string | null",
    "template_params: list[any] | null",
    "wa_message_id: string | null",
    "context_wa_message_id: string | null",
    "status: string",
    "status_at: date-time",
    "error: MessageErrorPublic | null",
    "created_at: date-time",
    "held: HeldPublic | null",
)
PUBLIC_SCHEMAS = {
    "LeadPublic": LEAD_FIELDS,
    "LeadSavedPublic": (*LEAD_FIELDS, "warnings: list[WarningPublic]"),
    "WarningPublic": ("field: string", "message: string"),
    "HeldPublic": ("until: date-time", "reason: QuietReasonPublic"),
    "QuietReasonPublic": ("kind: string", "name_en: string", "name_he: string"),
    "CampaignPublic": (
        "id: string",
        "property_id: string | null",
        "template: string",
        "status: string",
        "criteria: object",
        "created_by: string",
        "created_at: date-time",
        "started_at: date-time | null",
        "paused_at: date-time | null",
        "finished_at: date-time | null",
    ),
    "CampaignPreviewLeadPublic": (
        "lead_id: string",
        "name: string | null",
        "language: string",
        "checks: list[CheckPublic]",
        "reason: string | null",
        "reason_text: string | null",
    ),
    "CampaignPreviewPublic": (
        "property_id: string",
        "template: string",
        "tolerance: number",
        "recipients: list[CampaignPreviewLeadPublic]",
        "excluded: list[CampaignPreviewLeadPublic]",
        "not_matching: integer",
    ),
    "CampaignReportLinePublic": (
        "lead_id: string",
        "name: string | null",
        "outcome: string",
        "reason: string | null",
        "error_code: integer | null",
        "message_id: string | null",
        "replied: boolean",
    ),
    "CampaignTotalsPublic": tuple(
        f"{name}: integer"
        for name in (
            "recipients",
            "excluded",
            "cancelled",
            "queued",
            "sent",
            "delivered",
            "read",
            "failed",
            "replied",
        )
    ),
    "CampaignReportPublic": (
        "campaign: CampaignPublic",
        "totals: CampaignTotalsPublic",
        "lines: list[CampaignReportLinePublic]",
        "excluded_by_reason: object",
    ),
    "PropertyPublic": (
        "id: string",
        "title: string",
        "city: string",
        "area: string | null",
        "address: string | null",
        "rooms: number | null",
        "size_m2: integer | null",
        "price: integer | null",
        "status: string",
        "description: string | null",
        "created_at: date-time",
        "updated_at: date-time",
    ),
    "PropertyFilePublic": (
        "id: string",
        "property_id: string",
        "role: string",
        "position: integer",
        "filename: string",
        "mime_type: string",
        "size: integer",
        "sha256: string",
        "has_thumbnail: boolean",
        "uploaded_at: date-time | null",
        "created_at: date-time",
    ),
    "MeetingPublic": (
        "id: string",
        "lead_id: string",
        "property_id: string | null",
        "agent_id: string | null",
        "starts_at: date-time",
        "duration_minutes: integer",
        "status: string",
        "notes: string | null",
        "reminder_sent_at: date-time | null",
        "created_at: date-time",
        "updated_at: date-time",
    ),
    "CheckPublic": (
        "criterion: Criterion",
        "passed: boolean",
        "wanted: string | null",
        "offered: string | null",
        "within_tolerance: boolean",
    ),
    "MatchPublic": ("lead: LeadPublic", "reasons: list[CheckPublic]"),
    "ExclusionPublic": ("lead_id: string", "reasons: list[CheckPublic]"),
    "MatchesPublic": (
        "property_id: string",
        "tolerance: number",
        "matches: list[MatchPublic]",
        "excluded: list[ExclusionPublic]",
    ),
    "MessagePublic": MESSAGE_FIELDS,
    "MessageDetailPublic": (
        *MESSAGE_FIELDS,
        "lead_id: string",
        "status_history: list[StatusChangePublic]",
    ),
    "MediaPublic": (
        "id: string",
        "message_id: string",
        "lead_id: string",
        "kind: string",
        "state: string",
        "mime_type: string | null",
        "size: integer | null",
        "filename: string | null",
        "error: string | null",
        "attempts: integer",
        "has_thumbnail: boolean",
        "received_at: date-time",
        "stored_at: date-time | null",
    ),
    "MessageErrorPublic": ("code: integer | null", "title: string | null", "detail: string | null"),
    "StatusChangePublic": ("status: string", "at: date-time"),
    "QueuedPublic": (
        "id: string",
        "status: string",
        "send_at: date-time | null",
        "held: HeldPublic | null",
    ),
    "RequestPublic": (
        "id: string",
        "kind: string",
        "lead_id: string | null",
        "requested_at: date-time",
        "due_at: date-time",
        "completed_at: date-time | null",
        "requested_by: string",
        "overdue: boolean",
    ),
    "ErasurePublic": (
        "lead_id: string",
        "messages: integer",
        "meetings: integer",
        "consent_events: integer",
        "webhook_bodies: integer",
        "rekeyed_hours: integer",
    ),
    "AuditPublic": (
        "id: string",
        "at: date-time",
        "actor: string",
        "action: string",
        "subject_type: string",
        "subject_id: string | null",
        "details: object | null",
    ),
    "ItemFailurePublic": (
        "item: string",
        "field: string",
        "path: string",
        "problem: string",
        "first_seen: date-time",
        "last_seen: date-time",
    ),
    "FailedBodyPublic": (
        "id: string",
        "received_at: date-time",
        "status: string",
        "error: string | null",
        "items: list[ItemFailurePublic]",
    ),
    "AccountPublic": (
        "id: string",
        "email: string",
        "display_name: string",
        "role: Role",
        "active: boolean",
        "has_password: boolean",
        "locked: boolean",
        "sessions: integer",
        "created_at: date-time",
    ),
    "SessionPublic": (
        "id: string",
        "created_at: date-time",
        "last_seen_at: date-time",
        "expires_at: date-time",
        "address: string",
        "user_agent: string",
    ),
    "AlertPublic": (
        "id: string",
        "at: date-time",
        "kind: string",
        "severity: string",
        "message: string",
        "message_he: string | null",
        "resolved_at: date-time | null",
        "acknowledged_at: date-time | null",
        "acknowledged_by: string | null",
    ),
    "AutomationRulePublic": (
        "id: string",
        "key: string",
        "position: integer",
        "enabled: boolean",
        "definition: RuleDefinition | null",
        "invalid: string | null",
        "created_at: date-time",
        "updated_at: date-time",
        "updated_by: string | null",
        "done: integer",
        "skipped: integer",
        "failed: integer",
        "last_fired_at: date-time | null",
    ),
    "AutomationFiringPublic": (
        "id: string",
        "rule_id: string",
        "rule_key: string",
        "lead_id: string",
        "event: string",
        "outcome: string",
        "detail: string",
        "message_id: string | null",
        "at: date-time",
    ),
    "PagePublic_AutomationFiringPublic_": (
        "items: list[AutomationFiringPublic]",
        "next_cursor: string | null",
    ),
    "NotificationPublic": (
        "id: string",
        "lead_id: string | null",
        "rule_id: string | null",
        "text: string",
        "created_at: date-time",
        "read_at: date-time | null",
    ),
    "PagePublic_NotificationPublic_": (
        "items: list[NotificationPublic]",
        "next_cursor: string | null",
    ),
    "NotificationsReadPublic": ("marked: integer",),
    "DocumentPublic": (
        "id: string",
        "name: string",
        "language: string",
        "asked_at: date-time",
        "message_id: string | null",
        "media_file_id: string | null",
        "received_at: date-time | null",
    ),
    "DocumentsRequestedPublic": ("message_id: string", "documents: list[DocumentPublic]"),
    "ScoreChangePublic": (
        "at: date-time",
        "delta: integer",
        "score: integer",
        "reason: string",
        "source: string",
    ),
    "ScorePublic": (
        "score: integer",
        "changes: list[ScoreChangePublic]",
        "next_cursor: string | null",
    ),
    "LedgerEntryPublic": (
        "at: date-time",
        "kind: string",
        "source: string",
        "actor: string",
        "words: string | null",
        "basis: string | null",
    ),
    "ConsentPublic": (
        "lead_id: string",
        "opted_out: boolean",
        "opted_out_at: date-time | null",
        "opted_in_at: date-time | null",
        "marketing_basis: string | null",
        "marketing_basis_at: date-time | null",
        "marketing_basis_source: string | null",
        "may_market: boolean",
        "ledger: list[LedgerEntryPublic]",
    ),
    "TimingPublic": (
        "count: integer",
        "mean_s: number | null",
        "median_s: number | null",
        "p95_s: number | null",
        "max_s: number | null",
    ),
    "ErrorSharePublic": ("code: integer | null", "title: string | null", "count: integer"),
    "TemplateUsagePublic": (
        "family: string",
        "sent: integer",
        "share: number",
        "delivered_rate: number",
        "read_rate: number",
    ),
    "AgentResponsePublic": ("email: string", "timing: TimingPublic"),
    "SlowResponsePublic": (
        "lead_id: string",
        "turn_at: date-time",
        "waited_s: number | null",
    ),
    "FirstResponsesPublic": (
        "turns: integer",
        "answered: TimingPublic",
        "unanswered: integer",
        "by_agent: list[AgentResponsePublic]",
        "slowest: list[SlowResponsePublic]",
    ),
    "KpisPublic": (
        "start: date-time",
        "end: date-time",
        "cohort: integer",
        "delivered: integer",
        "read: integer",
        "failed: integer",
        "still_sent: integer",
        "delivery_rate: number | null",
        "read_rate: number | null",
        "failure_rate: number | null",
        "top_errors: list[ErrorSharePublic]",
        "templates: list[TemplateUsagePublic]",
        "leads_written: integer",
        "leads_replied: integer",
        "reply_rate: number | null",
        "webhook_processing: TimingPublic",
        "first_responses: FirstResponsesPublic",
        "graph_api: TimingPublic",
        "graph_api_failed: integer",
    ),
    "PagePublic_LeadPublic_": ("items: list[LeadPublic]", "next_cursor: string | null"),
    "PagePublic_MeetingPublic_": ("items: list[MeetingPublic]", "next_cursor: string | null"),
    "PagePublic_PropertyPublic_": ("items: list[PropertyPublic]", "next_cursor: string | null"),
}
ROUTE_ANSWERS = {
    "POST /api/v1/leads 201": "LeadSavedPublic",
    "GET /api/v1/leads 200": "PagePublic_LeadPublic_",
    "GET /api/v1/leads/{lead_id} 200": "LeadPublic",
    "PATCH /api/v1/leads/{lead_id} 200": "LeadSavedPublic",
    "GET /api/v1/leads/{lead_id}/messages 200": "list[MessagePublic]",
    "GET /api/v1/leads/{lead_id}/score 200": "ScorePublic",
    "GET /api/v1/leads/{lead_id}/consent 200": "ConsentPublic",
    "POST /api/v1/leads/{lead_id}/consent 200": "ConsentPublic",
    "POST /api/v1/leads/{lead_id}/messages 202": "QueuedPublic",
    "POST /api/v1/properties 201": "PropertyPublic",
    "GET /api/v1/properties 200": "PagePublic_PropertyPublic_",
    "GET /api/v1/properties/{property_id} 200": "PropertyPublic",
    "PATCH /api/v1/properties/{property_id} 200": "PropertyPublic",
    "GET /api/v1/properties/{property_id}/matches 200": "MatchesPublic",
    "GET /api/v1/properties/{property_id}/files 200": "list[PropertyFilePublic]",
    "POST /api/v1/properties/{property_id}/files 201": "PropertyFilePublic",
    "POST /api/v1/meetings 201": "MeetingPublic",
    "GET /api/v1/meetings 200": "PagePublic_MeetingPublic_",
    "GET /api/v1/meetings/{meeting_id} 200": "MeetingPublic",
    "PATCH /api/v1/meetings/{meeting_id} 200": "MeetingPublic",
    "GET /api/v1/messages/{message_id} 200": "MessageDetailPublic",
    "GET /api/v1/messages/{message_id}/media 200": "MediaPublic",
    "POST /api/v1/privacy/erase 200": "ErasurePublic",
    "GET /api/v1/privacy/requests 200": "list[RequestPublic]",
    "POST /api/v1/privacy/requests 201": "RequestPublic",
    "GET /api/v1/audit 200": "list[AuditPublic]",
    "GET /api/v1/webhooks/failures 200": "list[FailedBodyPublic]",
    "GET /api/v1/users 200": "list[AccountPublic]",
    "POST /api/v1/users 201": "AccountPublic",
    "GET /api/v1/users/{user_id} 200": "AccountPublic",
    "POST /api/v1/users/{user_id}/disable 200": "AccountPublic",
    "POST /api/v1/users/{user_id}/enable 200": "AccountPublic",
    "POST /api/v1/users/{user_id}/password 200": "Ended",
    "POST /api/v1/users/{user_id}/unlock 200": "Unlocked",
    "POST /api/v1/users/{user_id}/sign-out 200": "Ended",
    "GET /api/v1/users/{user_id}/sessions 200": "list[SessionPublic]",
    "GET /api/v1/alerts 200": "list[AlertPublic]",
    "GET /api/v1/kpis 200": "KpisPublic",
    "POST /api/v1/alerts/{alert_id}/acknowledge 200": "AlertPublic",
    "GET /api/v1/automation/rules 200": "list[AutomationRulePublic]",
    "POST /api/v1/automation/rules 201": "AutomationRulePublic",
    "GET /api/v1/automation/rules/{rule} 200": "AutomationRulePublic",
    "PATCH /api/v1/automation/rules/{rule} 200": "AutomationRulePublic",
    "GET /api/v1/automation/firings 200": "PagePublic_AutomationFiringPublic_",
    "GET /api/v1/notifications 200": "PagePublic_NotificationPublic_",
    "POST /api/v1/notifications/read 200": "NotificationsReadPublic",
    "POST /api/v1/notifications/{notification_id}/read 200": "NotificationsReadPublic",
    "GET /api/v1/leads/{lead_id}/documents 200": "list[DocumentPublic]",
    "POST /api/v1/leads/{lead_id}/documents/request 202": "DocumentsRequestedPublic",
    "PUT /api/v1/leads/{lead_id}/documents/{document_id} 200": "DocumentPublic",
    "GET /api/v1/campaigns/preview 200": "CampaignPreviewPublic",
    "POST /api/v1/campaigns 201": "CampaignPublic",
    "GET /api/v1/campaigns 200": "list[CampaignPublic]",
    "GET /api/v1/campaigns/{campaign_id} 200": "CampaignPublic",
    "GET /api/v1/campaigns/{campaign_id}/report 200": "CampaignReportPublic",
    "POST /api/v1/campaigns/{campaign_id}/start 200": "CampaignPublic",
    "POST /api/v1/campaigns/{campaign_id}/pause 200": "CampaignPublic",
    "POST /api/v1/campaigns/{campaign_id}/resume 200": "CampaignPublic",
    "POST /api/v1/campaigns/{campaign_id}/cancel 200": "CampaignPublic",
}


def _kind(schema: dict[str, Any]) -> str:
    """A JSON schema in short: its type, a referenced schema's name, or a union of them."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[1]
    if "anyOf" in schema:
        return " | ".join(_kind(option) for option in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list[{_kind(schema['items']) if schema['items'] else 'any'}]"
    if schema.get("format") == "date-time":
        return "date-time"
    return str(schema["type"])


@pytest.fixture
def openapi(anonymous: httpx.Client) -> dict[str, Any]:
    """The OpenAPI document the server publishes."""
    answer = anonymous.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def test_each_public_schema_has_the_fields_and_types_clients_rely_on(
    openapi: dict[str, Any],
) -> None:
    schemas = openapi["components"]["schemas"]
    public = {name: schema for name, schema in schemas.items() if "Public" in name}
    shown = {
        name: tuple(f"{field}: {_kind(value)}" for field, value in schema["properties"].items())
        for name, schema in public.items()
    }
    assert shown == PUBLIC_SCHEMAS
    for name, schema in public.items():
        assert schema["required"] == list(schema["properties"]), f"{name}: all fields required"


def test_each_route_answers_with_its_public_schema(openapi: dict[str, Any]) -> None:
    answers = {
        f"{method.upper()} {path} {status}": _kind(
            response["content"]["application/json"]["schema"]
        )
        for path, operations in openapi["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status.startswith("2")
        and "schema" in response.get("content", {}).get("application/json", {})
    }
    assert answers == ROUTE_ANSWERS


def _lead() -> LeadRecord:
    unset: dict[str, Any] = {field.name: None for field in dataclasses.fields(LeadRecord)}
    values = {
        "id": "lead-1",
        "language": "he",
        "source": "manual",
        "stage": "new",
        "engagement_score": 0,
        "want_rooms_min": Decimal("3.5"),
        "created_at": WINTER_MORNING,
        "updated_at": WINTER_MORNING,
    }
    return LeadRecord(**unset | values)


@dataclass(frozen=True)
class GrownLead(LeadRecord):
    """A lead record with a field its public schema was not derived from."""

    favourite_colour: str | None = None


def test_a_record_field_the_schema_neither_shows_nor_hides_fails_loudly() -> None:
    grown = GrownLead(**dataclasses.asdict(_lead()), favourite_colour="blue")
    with pytest.raises(TypeError, match=r"LeadPublic does not fit GrownLead.*favourite_colour"):
        answer(LeadPublic, grown, ISRAEL)


def test_a_field_added_to_a_record_reaches_the_model_derived_from_it() -> None:
    grown = GrownLead(**dataclasses.asdict(_lead()), favourite_colour="blue")
    model = public_model(GrownLead, "GrownLeadPublic", "A lead.")
    assert list(model.model_fields) == [*LeadPublic.model_fields, "favourite_colour"]
    assert answer(model, grown, ISRAEL).model_dump()["favourite_colour"] == "blue"


def test_a_field_named_private_is_left_out_of_the_model_and_its_answers() -> None:
    grown = GrownLead(**dataclasses.asdict(_lead()), favourite_colour="blue")
    model = public_model(GrownLead, "GrownLeadPublic", "A lead.", private={"favourite_colour"})
    assert "favourite_colour" not in answer(model, grown, ISRAEL).model_dump()


def test_a_private_or_overridden_name_the_record_lacks_is_refused() -> None:
    with pytest.raises(TypeError, match=r"LeadRecord has no field \['favorite_color'\]"):
        public_model(LeadRecord, "LeadPublic", "A lead.", private={"favorite_color"})
    with pytest.raises(TypeError, match=r"LeadRecord has no field \['colour'\]"):
        public_model(LeadRecord, "LeadPublic", "A lead.", overrides={"colour": str})


def test_an_answer_shows_times_in_the_zone_given_and_decimals_as_numbers() -> None:
    shown = answer(LeadPublic, _lead(), ISRAEL).model_dump(mode="json")
    assert shown["created_at"] == "2026-12-24T10:00:00+02:00"
    assert shown["want_rooms_min"] == 3.5
    stored = answer(LeadPublic, _lead(), None).model_dump(mode="json")
    assert stored["created_at"] == "2026-12-24T08:00:00Z"


def _message() -> MessageRecord:
    later = WINTER_MORNING.replace(minute=5)
    return MessageRecord(
        id="message-1",
        lead_id="lead-1",
        direction="outbound",
        type="text",
        text="שלום",
        template=None,
        template_language=None,
        template_params=None,
        wa_message_id="wamid.1",
        context_wa_message_id=None,
        status="failed",
        status_at=later,
        status_history=[("created", WINTER_MORNING), ("failed", later)],
        error=MessageError(131026, "Message undeliverable", None),
        created_at=WINTER_MORNING,
    )


def test_a_conversation_message_leaves_out_its_lead_and_history() -> None:
    shown = answer(MessagePublic, _message(), ISRAEL).model_dump(mode="json")
    assert list(shown) == [entry.split(":")[0] for entry in MESSAGE_FIELDS]
    assert shown["error"] == {"code": 131026, "title": "Message undeliverable", "detail": None}


def test_a_message_detail_shows_its_history_in_the_zone_given() -> None:
    shown = answer(MessageDetailPublic, _message(), ISRAEL).model_dump(mode="json")
    assert shown["lead_id"] == "lead-1"
    assert shown["status_history"] == [
        {"status": "created", "at": "2026-12-24T10:00:00+02:00"},
        {"status": "failed", "at": "2026-12-24T10:05:00+02:00"},
    ]
