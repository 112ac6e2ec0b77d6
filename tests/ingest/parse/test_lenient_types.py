"""Types are read leniently where the meaning is unambiguous (a number spelled as a string,
a null list, a key or enum value Meta added since); a truly missing identifier fails only
its own item."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from ovenai.events import (
    InboundMessage,
    StatusUpdate,
    TemplateStatusUpdate,
    UnreadableItem,
    UserPreference,
    WebhookEvent,
)
from ovenai.events.content import LocationContent
from ovenai.events.enums import DeliveryStatus, MarketingPreference, TemplateEvent
from ovenai.ingest.parse.body_parser import parse_webhook

Events = Callable[[str], list[WebhookEvent]]
Payload = Callable[[str], bytes]


def _parse(doc: dict[str, Any]) -> list[WebhookEvent]:
    return parse_webhook(json.dumps(doc).encode())


def _messages_body(value: dict[str, Any]) -> dict[str, Any]:
    change = {"field": "messages", "value": {"metadata": {"phone_number_id": "1"}, **value}}
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}


def _text(wamid: str, **extra: Any) -> dict[str, Any]:
    message = {"from": "972521234567", "id": wamid, "timestamp": "1767000000", "type": "text"}
    return message | {"text": {"body": "hi"}} | extra


def test_it_reads_a_template_status_whose_time_and_template_id_are_digit_strings(
    events_of: Events,
) -> None:
    (event,) = events_of("template_status_time_as_string.json")
    (usual,) = events_of("template_status_approved.json")
    assert isinstance(event, TemplateStatusUpdate)
    assert event.time == datetime(2025, 12, 30, 13, 6, 40, tzinfo=UTC)
    assert (event.template_id, event.event) == ("880000000000077", TemplateEvent.APPROVED)
    assert msgspec.structs.replace(event, dedupe_key=usual.dedupe_key) == usual


def test_an_entry_time_spelled_as_a_string_keeps_the_usual_key(load_payload: Payload) -> None:
    doc = json.loads(load_payload("template_status_approved.json"))
    (usual,) = _parse(doc)
    doc["entry"][0]["time"] = str(doc["entry"][0]["time"])
    assert _parse(doc) == [usual]


def test_it_reads_timestamps_ids_and_codes_whichever_way_they_are_spelled() -> None:
    failed: dict[str, Any] = {"id": "wamid.S", "status": "failed", "timestamp": 1767000001}
    failed["errors"] = [{"code": "131026", "title": "Message undeliverable"}]
    body = _messages_body({"messages": [_text("wamid.M", timestamp=1767000000)]})
    body["entry"][0]["changes"][0]["value"]["statuses"] = [failed]
    message, status = _parse(body)
    assert isinstance(message, InboundMessage) and message.timestamp.year == 2025
    assert isinstance(status, StatusUpdate) and status.errors[0].code == 131026
    assert status.timestamp == datetime.fromtimestamp(1767000001, UTC)


def test_it_reads_a_preference_whose_timestamp_is_a_digit_string(load_payload: Payload) -> None:
    doc = json.loads(load_payload("user_preferences_stop.json"))
    (usual,) = _parse(doc)
    item = doc["entry"][0]["changes"][0]["value"]["user_preferences"][0]
    item["timestamp"] = str(item["timestamp"])
    assert _parse(doc) == [usual]


def test_it_reads_coordinates_and_flags_spelled_as_strings() -> None:
    location = {"latitude": "32.0853", "longitude": "34.7818", "name": "Dizengoff Sq."}
    message = _text("wamid.L", type="location", location=location)
    status: dict[str, Any] = {"id": "wamid.S", "status": "sent", "timestamp": "1767000000"}
    status["pricing"] = {"billable": "true", "category": "utility"}
    (inbound, sent) = _parse(_messages_body({"messages": [message], "statuses": [status]}))
    assert isinstance(inbound, InboundMessage) and isinstance(inbound.content, LocationContent)
    assert (inbound.content.latitude, inbound.content.longitude) == (32.0853, 34.7818)
    assert isinstance(sent, StatusUpdate) and sent.pricing is not None and sent.pricing.billable


def test_it_reads_a_null_list_as_empty(load_payload: Payload) -> None:
    doc = json.loads(load_payload("batch_multi_entry_multi_change.json"))
    doc["entry"][0]["changes"][0]["value"]["contacts"] = None
    doc["entry"][0]["changes"][1]["value"]["statuses"] = None
    doc["entry"][1]["changes"] = None
    kinds = [type(event).__name__ for event in _parse(doc)]
    assert kinds == ["InboundMessage"] * 3


def test_it_reads_null_errors_on_a_status_as_none() -> None:
    status: dict[str, Any] = {"id": "wamid.S", "status": "read", "timestamp": "1767000000"}
    status["errors"] = None
    status["pricing"] = {"billable": False, "category": "service"}
    (event,) = _parse(_messages_body({"statuses": [status]}))
    assert isinstance(event, StatusUpdate) and event.errors == ()
    assert event.pricing is not None and event.pricing.category == "service"


def test_it_ignores_keys_meta_added_since(load_payload: Payload) -> None:
    doc = json.loads(load_payload("batch_multi_entry_multi_change.json"))
    usual = _parse(doc)
    doc["entry"][0]["new_entry_key"] = {"x": 1}
    doc["entry"][0]["changes"][0]["new_change_key"] = [1]
    doc["entry"][0]["changes"][0]["value"]["messages"][0]["new_message_key"] = "x"
    assert _parse(doc) == usual


def test_it_keeps_enum_values_meta_added_since_with_their_raw_string() -> None:
    preference: dict[str, Any] = {"wa_id": "972521234567", "category": "marketing_messages"}
    preference |= {"value": "snooze", "timestamp": 1767200000}
    status = {"id": "wamid.S", "status": "deferred", "timestamp": "1767000000"}
    deferred, pref = _parse(
        _messages_body({"user_preferences": [preference], "statuses": [status]})
    )
    assert isinstance(pref, UserPreference)
    assert (pref.value, pref.value_raw) == (MarketingPreference.UNKNOWN, "snooze")
    assert isinstance(deferred, StatusUpdate)
    assert (deferred.status, deferred.status_raw) == (DeliveryStatus.UNKNOWN, "deferred")


def test_it_keeps_a_template_event_meta_added_since(load_payload: Payload) -> None:
    doc = json.loads(load_payload("template_status_approved.json"))
    doc["entry"][0]["changes"][0]["value"]["event"] = "SUSPENDED_FOREVER"
    (event,) = _parse(doc)
    assert isinstance(event, TemplateStatusUpdate)
    assert (event.event, event.event_raw) == (TemplateEvent.UNKNOWN, "SUSPENDED_FOREVER")


def test_a_message_without_id_fails_alone() -> None:
    no_id = _text("wamid.X")
    del no_id["id"]
    odd, fine = _parse(_messages_body({"messages": [no_id, _text("wamid.OK")]}))
    assert isinstance(odd, UnreadableItem) and odd.item == "message"
    assert isinstance(fine, InboundMessage) and fine.message_id == "wamid.OK"


def test_a_message_with_an_empty_id_fails_alone() -> None:
    odd, fine = _parse(_messages_body({"messages": [_text(""), _text("wamid.OK")]}))
    assert isinstance(odd, UnreadableItem) and "id" in odd.problem
    assert isinstance(fine, InboundMessage)


def test_a_message_without_a_sender_fails_alone_even_beside_a_lone_contact() -> None:
    anonymous = {k: v for k, v in _text("wamid.ANON").items() if k != "from"}
    contacts = [{"wa_id": "972521234567", "profile": {"name": "Noa"}}]
    value = {"contacts": contacts, "messages": [anonymous, _text("wamid.OK")]}
    odd, fine = _parse(_messages_body(value))
    assert isinstance(odd, UnreadableItem) and "from_user_id" in odd.problem
    assert odd.path == "$.entry[0].changes[0].value.messages[0]"
    assert isinstance(fine, InboundMessage) and fine.sender.profile_name == "Noa"


def test_a_message_from_a_username_user_needs_no_phone() -> None:
    username = {k: v for k, v in _text("wamid.U").items() if k != "from"}
    (event,) = _parse(_messages_body({"messages": [username | {"from_user_id": "IL.5551"}]}))
    assert isinstance(event, InboundMessage) and event.sender.user_id == "IL.5551"


def test_a_status_without_id_or_status_fails_alone() -> None:
    statuses = [
        {"status": "read", "timestamp": "1767000000"},
        {"id": "wamid.A", "timestamp": "1767000000"},
        {"id": "wamid.B", "status": "", "timestamp": "1767000000"},
        {"id": "wamid.C", "status": "read", "timestamp": "1767000000"},
    ]
    *odd, fine = _parse(_messages_body({"statuses": statuses}))
    paths = [e.path for e in odd if isinstance(e, UnreadableItem) and e.item == "status"]
    assert paths == [f"$.entry[0].changes[0].value.statuses[{i}]" for i in range(3)]
    assert isinstance(fine, StatusUpdate) and fine.message_id == "wamid.C"
