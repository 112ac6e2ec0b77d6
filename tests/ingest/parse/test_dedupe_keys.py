"""Each event has a stable dedupe key: wamid for messages, (wamid, status) for statuses."""

from __future__ import annotations

import json
from collections.abc import Callable

import msgspec

from ovenai.events import WebhookEvent
from ovenai.ingest.parse.body_parser import parse_webhook

Events = Callable[[str], list[WebhookEvent]]
OUTBOUND = "wamid.HBgMOTcyNTIxMjM0NTY3FQIAERgSRkFLRU9VVEJPVU5EMDAwMDAy"


def test_it_keys_a_message_by_its_wamid(events_of: Events) -> None:
    (event,) = events_of("text_hebrew_emoji.json")
    assert event.dedupe_key == "message:wamid.HBgMOTcyNTIxMjM0NTY3FQIAEhggQTAwMDAw0001=="


def test_it_keys_a_status_by_wamid_and_status(events_of: Events) -> None:
    keys = [e.dedupe_key for e in events_of("batch_multi_entry_multi_change.json")]
    assert f"status:{OUTBOUND}:delivered" in keys and f"status:{OUTBOUND}:read" in keys


def test_it_keys_a_preference_by_user_category_value_and_time(events_of: Events) -> None:
    (event,) = events_of("user_preferences_stop.json")
    expected = "user_preference:IL.5550001112223334445:marketing_messages:stop:1767200000"
    assert event.dedupe_key == expected


class _Envelope(msgspec.Struct):
    object: str
    entry: list[msgspec.Raw]


def _entries(raw: bytes) -> list[bytes]:
    """Each ``entry[]`` element of a body, as its exact bytes."""
    return [bytes(entry) for entry in msgspec.json.decode(raw, type=_Envelope).entry]


def _batch(*entries: bytes) -> bytes:
    return b'{"object":"whatsapp_business_account","entry":[' + b",".join(entries) + b"]}"


def test_an_item_redelivered_in_another_batch_keeps_its_key(
    load_payload: Callable[[str], bytes],
) -> None:
    # Meta resends the same bytes of each change, but may batch them differently: the
    # entries in another order, behind entries of other bodies. The key is the item's,
    # wherever it sits in the body.
    other = _entries(load_payload("account_update.json"))
    for name in ("batch_multi_entry_multi_change.json", "template_status_approved.json"):
        entries = _entries(load_payload(name))
        first = parse_webhook(_batch(*entries))
        again = parse_webhook(_batch(*other, *reversed(entries)))
        assert len(first) >= 1 and len(again) == len(first) + 1
        again_keys = [event.dedupe_key for event in again]
        assert all(event.dedupe_key in again_keys for event in first), name


def test_it_gives_distinct_keys_to_distinct_template_events(events_of: Events) -> None:
    names = [
        "template_status_approved.json",
        "template_status_rejected.json",
        "template_quality_update.json",
        "account_update.json",
        "phone_number_quality_update.json",
    ]
    keys = [event.dedupe_key for name in names for event in events_of(name)]
    assert len(set(keys)) == len(keys)


def test_it_keys_an_id_less_change_by_field_waba_time_and_value(
    load_payload: Callable[[str], bytes],
) -> None:
    doc = json.loads(load_payload("account_update.json"))
    (original,) = parse_webhook(json.dumps(doc).encode())
    doc["entry"][0]["time"] += 1
    (later,) = parse_webhook(json.dumps(doc).encode())
    assert original.dedupe_key.startswith("account_update:")
    assert original.dedupe_key != later.dedupe_key
