"""A broken entry, change or item of a batch becomes ONE UnreadableItem saying where it sits;
every sound sibling in the same body still yields its events."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from ovenai.events import (
    InboundMessage,
    StatusUpdate,
    TemplateStatusUpdate,
    UnreadableItem,
    WebhookEvent,
)
from ovenai.ingest.errors import MalformedPayload
from ovenai.ingest.parse.body_parser import parse_webhook

Events = Callable[[str], list[WebhookEvent]]
Payload = Callable[[str], bytes]
BATCH = "batch_multi_entry_multi_change.json"


def _parse(doc: dict[str, Any]) -> list[WebhookEvent]:
    return parse_webhook(json.dumps(doc).encode())


def _unreadable(events: list[WebhookEvent]) -> list[UnreadableItem]:
    return [event for event in events if isinstance(event, UnreadableItem)]


def test_an_entry_without_changes_fails_alone_and_the_other_entries_are_read(
    events_of: Events,
) -> None:
    message, odd, template = events_of("batch_entry_without_changes.json")
    assert isinstance(message, InboundMessage) and message.text.startswith("Is the flat")
    assert isinstance(template, TemplateStatusUpdate) and template.name == "viewing_reminder_he"
    assert isinstance(odd, UnreadableItem)
    assert (odd.item, odd.path, odd.field) == ("entry", "$.entry[1]", "")
    assert "changes" in odd.problem
    assert json.loads(odd.raw_json) == {"id": "310000000000009", "time": 1767002401}


@pytest.mark.parametrize(
    "broken",
    [7, "entry", None, [], {"changes": []}, {"id": None, "changes": []}, {"id": 1.5}],
    ids=["number", "string", "null", "list", "no id", "null id", "float id"],
)
def test_an_entry_that_is_not_an_object_or_has_no_usable_id_fails_alone(
    load_payload: Payload, events_of: Events, broken: object
) -> None:
    doc = json.loads(load_payload(BATCH))
    doc["entry"][0] = broken
    events = _parse(doc)
    (odd,) = _unreadable(events)
    assert (odd.item, odd.path) == ("entry", "$.entry[0]")
    assert events[1:] == events_of(BATCH)[-2:]  # the second entry: one message, one status


@pytest.mark.parametrize(
    ("broken", "field"),
    [
        ({"field": "messages"}, "messages"),
        ({"value": {"messages": []}}, ""),
        ({"field": 7, "value": {}}, ""),
        ("messages", ""),
    ],
    ids=["no value", "no field", "numeric field", "not an object"],
)
def test_a_change_without_field_or_value_fails_alone_and_names_its_field(
    load_payload: Payload, events_of: Events, broken: object, field: str
) -> None:
    doc = json.loads(load_payload(BATCH))
    doc["entry"][0]["changes"][1] = broken  # the change of three statuses
    events = _parse(doc)
    (odd,) = _unreadable(events)
    assert (odd.item, odd.path, odd.field) == ("change", "$.entry[0].changes[1]", field)
    assert odd.problem and msgspec.json.decode(odd.raw_json) == broken
    sound = events_of(BATCH)
    assert events == [*sound[:3], odd, *sound[6:]]


def test_a_change_value_of_the_wrong_shape_fails_its_change_alone(
    load_payload: Payload, events_of: Events
) -> None:
    doc = json.loads(load_payload(BATCH))
    doc["entry"][1]["changes"][0]["value"]["statuses"] = {"not": "a list"}
    events = _parse(doc)
    (odd,) = _unreadable(events)
    assert (odd.item, odd.field, odd.path) == ("change", "messages", "$.entry[1].changes[0]")
    assert events[:-1] == events_of(BATCH)[:6]


@pytest.mark.parametrize(
    ("array", "item", "odd"),
    [
        ("messages", "message", {"type": "text", "text": {"body": "no id"}}),
        ("statuses", "status", {"status": "read", "timestamp": "1767000000"}),
        ("user_preferences", "user_preference", {"value": "stop", "timestamp": "soon"}),
        ("errors", "error", {"code": {"not": "a number"}}),
    ],
)
def test_an_unreadable_item_says_where_it_sits_in_the_body(
    load_payload: Payload, array: str, item: str, odd: dict[str, Any]
) -> None:
    doc = json.loads(load_payload(BATCH))
    value = doc["entry"][1]["changes"][0]["value"]
    value[array] = [*value.get(array, []), odd]
    index = len(value[array]) - 1
    (found,) = _unreadable(_parse(doc))
    assert found.item == item
    assert found.path == f"$.entry[1].changes[0].value.{array}[{index}]"


def test_an_unreadable_item_deep_in_a_batch_points_at_its_own_index(
    load_payload: Payload,
) -> None:
    doc = json.loads(load_payload(BATCH))
    doc["entry"][0]["changes"][0]["value"]["messages"][2].pop("id")
    events = _parse(doc)
    (odd,) = _unreadable(events)
    assert (odd.item, odd.path) == ("message", "$.entry[0].changes[0].value.messages[2]")
    assert len(events) == 8 and sum(isinstance(e, StatusUpdate) for e in events) == 4


def test_an_unreadable_part_keeps_its_key_when_meta_redelivers_the_body(
    load_payload: Payload,
) -> None:
    body = load_payload("batch_entry_without_changes.json")
    (first,) = _unreadable(parse_webhook(body))
    (again,) = _unreadable(parse_webhook(body))
    assert first.dedupe_key == again.dedupe_key
    assert first.dedupe_key.startswith("unreadable:entry:")


def test_distinct_unreadable_parts_get_distinct_keys() -> None:
    entries = [{"id": "1"}, {"id": "2"}, {"id": "1", "changes": "x"}, 7]
    body = {"object": "whatsapp_business_account", "entry": entries}
    keys = [event.dedupe_key for event in _unreadable(_parse(body))]
    assert len(keys) == 4 and len(set(keys)) == 4


@pytest.mark.parametrize("entry", [{}, "x", 5, True])
def test_a_body_whose_entry_is_not_a_list_is_still_malformed(entry: object) -> None:
    with pytest.raises(MalformedPayload):
        _parse({"object": "whatsapp_business_account", "entry": entry})


def test_a_null_entry_list_holds_nothing() -> None:
    assert _parse({"object": "whatsapp_business_account", "entry": None}) == []
