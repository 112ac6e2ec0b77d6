"""On any bytes or any JSON, the parser returns events or raises MalformedPayload, nothing else."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ovenai.ingest.errors import MalformedPayload
from ovenai.ingest.parse.body_parser import parse_webhook

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=40,
)
KEYS = st.sampled_from(
    [
        "id",
        "from",
        "from_user_id",
        "timestamp",
        "type",
        "text",
        "image",
        "status",
        "statuses",
        "messages",
        "contacts",
        "errors",
        "context",
        "referral",
        "interactive",
        "reaction",
        "system",
        "user_preferences",
        "metadata",
        "event",
        "message_template_id",
        "wa_id",
        "user_id",
        "body",
    ]
)
FIELDS = st.sampled_from(
    [
        "messages",
        "user_preferences",
        "message_template_status_update",
        "account_update",
        "message_template_quality_update",
        "template_category_update",
        "calls",
    ]
)
NEAR_MISS = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=6),
)


def _parses_or_refuses(raw: bytes) -> None:
    try:
        events = parse_webhook(raw)
    except MalformedPayload:
        return
    assert isinstance(events, list)


@given(st.binary(max_size=512))
def test_it_never_raises_anything_but_malformed_payload_on_arbitrary_bytes(raw: bytes) -> None:
    _parses_or_refuses(raw)


@given(JSON)
def test_it_never_raises_anything_but_malformed_payload_on_arbitrary_json(value: object) -> None:
    _parses_or_refuses(json.dumps(value).encode())


@settings(max_examples=300)
@given(FIELDS, NEAR_MISS, st.lists(NEAR_MISS, max_size=3))
def test_it_never_fails_on_envelopes_with_arbitrary_values(
    field: str, value: object, items: list[object]
) -> None:
    if isinstance(value, dict):
        value = {**value, "messages": items, "statuses": items, "user_preferences": items}
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "time": 1767000000, "changes": [{"field": field, "value": value}]}],
    }
    assert isinstance(parse_webhook(json.dumps(envelope).encode()), list)


MESSAGE_TYPES = st.sampled_from(
    [
        "text",
        "image",
        "audio",
        "document",
        "location",
        "contacts",
        "interactive",
        "button",
        "reaction",
        "order",
        "system",
        "unsupported",
        "brand_new",
    ]
)


@settings(max_examples=300)
@given(MESSAGE_TYPES, NEAR_MISS, st.sampled_from(["1767000000", "", "x", "99999999999999999999"]))
def test_it_reads_any_well_identified_message_as_an_event(
    type_: str, payload: object, timestamp: str
) -> None:
    message: dict[str, object] = {"id": "wamid.H", "timestamp": timestamp, "type": type_}
    message[type_] = payload
    change = {"field": "messages", "value": {"messages": [message], "contacts": [payload]}}
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}
    (event,) = parse_webhook(json.dumps(body).encode())
    assert event.dedupe_key
