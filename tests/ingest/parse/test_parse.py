"""parse_webhook flattens a whole batch (every entry, change and item), in document order."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from ovenai.events import InboundMessage, StatusUpdate, WebhookEvent
from ovenai.ingest.parse.body_parser import parse_webhook

Events = Callable[[str], list[WebhookEvent]]
BATCH = "batch_multi_entry_multi_change.json"


def test_it_yields_every_message_and_status_of_a_batch_in_document_order(
    events_of: Events,
) -> None:
    kinds = [type(event).__name__ for event in events_of(BATCH)]
    assert kinds == ["InboundMessage"] * 3 + ["StatusUpdate"] * 3 + [
        "InboundMessage",
        "StatusUpdate",
    ]


def test_it_yields_every_status_of_a_batch(events_of: Events) -> None:
    statuses = [e for e in events_of(BATCH) if isinstance(e, StatusUpdate)]
    assert [(s.message_id[-8:], s.status_raw) for s in statuses] == [
        ("MDAwMDAy", "delivered"),
        ("MDAwMDAy", "read"),
        ("MDAwMDAz", "sent"),
        ("MDAwMDA0", "sent"),
    ]


def test_it_keeps_each_entrys_waba_and_business_number(events_of: Events) -> None:
    routes = {(e.waba_id, e.phone_number_id) for e in events_of(BATCH)}  # type: ignore[union-attr]
    assert routes == {
        ("310000000000001", "420000000000002"),
        ("310000000000009", "420000000000008"),
    }


def test_it_resolves_each_sender_of_a_batch_from_its_own_change(events_of: Events) -> None:
    senders = [e.sender.profile_name for e in events_of(BATCH) if isinstance(e, InboundMessage)]
    assert senders == ["נועה בן דוד", "Yossi", "נועה בן דוד", "Dana"]


def test_it_yields_one_event_per_change_across_many_entries() -> None:
    entry = b'{"id":"310000000000001","time":1767100000,"changes":[%s]}'
    change = b'{"field":"account_update","value":{"event":"ACCOUNT_DELETED"}}'
    body = b'{"object":"whatsapp_business_account","entry":[%s]}' % b",".join(
        [entry % b",".join([change] * 3)] * 4
    )
    assert len(parse_webhook(body)) == 12


def test_it_returns_nothing_for_an_envelope_without_entries() -> None:
    assert parse_webhook(b'{"object":"whatsapp_business_account","entry":[]}') == []
    assert parse_webhook(b'{"object":"whatsapp_business_account"}') == []


def test_its_events_round_trip_through_json_for_storage(events_of: Events) -> None:
    events = events_of(BATCH) + events_of("template_status_rejected.json")
    decoded = msgspec.json.decode(msgspec.json.encode(events), type=list[WebhookEvent])
    assert decoded == events
