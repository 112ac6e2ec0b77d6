"""Bad bodies raise MalformedPayload; odd items inside a good body never fail the batch."""

from __future__ import annotations

import msgspec
import pytest

from ovenai.errors import InvalidInput
from ovenai.events import InboundMessage, UnreadableItem
from ovenai.events.content import UnsupportedContent
from ovenai.ingest.errors import MalformedPayload, PayloadTooDeep
from ovenai.ingest.parse.body_parser import parse_webhook


def _messages_body(*messages: bytes) -> bytes:
    return (
        b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",'
        b'"value":{"metadata":{"phone_number_id":"420000000000002"},"messages":[%s]}}]}]}'
        % b",".join(messages)
    )


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b'{"object":', b"[]", b"42", b'{"entry":[]}', b'{"object":7}'],
)
def test_it_rejects_a_body_that_is_not_an_envelope(body: bytes) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse_webhook(body)
    assert isinstance(caught.value, InvalidInput) and caught.value.http_status == 422


def test_it_keeps_each_entry_that_is_not_an_object_as_one_unreadable_entry() -> None:
    events = parse_webhook(b'{"object":"whatsapp_business_account","entry":[1,2]}')
    assert [(e.item, e.path) for e in events if isinstance(e, UnreadableItem)] == [
        ("entry", "$.entry[0]"),
        ("entry", "$.entry[1]"),
    ]
    assert len(events) == 2


def test_it_rejects_absurd_nesting_before_decoding() -> None:
    body = b'{"object":"whatsapp_business_account","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(PayloadTooDeep):
        parse_webhook(body)


def test_it_accepts_deep_brackets_inside_a_string() -> None:
    body = b'{"object":"whatsapp_business_account","x":"' + b"[" * 10_000 + b'","entry":[]}'
    assert parse_webhook(body) == []


def test_it_turns_a_message_with_an_odd_shape_into_unsupported_content() -> None:
    head = b'"from":"972521234567","timestamp":"1767000000","type":"text"'
    odd = b'{%s,"id":"wamid.ODD","text":"hi"}' % head
    ok = b'{%s,"id":"wamid.OK","text":{"body":"hi"}}' % head
    first, second = parse_webhook(_messages_body(odd, ok))
    assert isinstance(first, InboundMessage) and isinstance(first.content, UnsupportedContent)
    assert first.message_id == "wamid.ODD" and first.content.problem
    assert msgspec.json.decode(first.content.raw_json) == msgspec.json.decode(odd)
    assert isinstance(second, InboundMessage) and second.text == "hi"


def test_it_turns_a_new_message_type_into_unsupported_content() -> None:
    new = b'{"from":"972521234567","id":"wamid.N","timestamp":"1767000000","type":"hologram"}'
    (event,) = parse_webhook(_messages_body(new))
    assert isinstance(event, InboundMessage) and isinstance(event.content, UnsupportedContent)
    assert event.type_raw == "hologram" and event.text == "[unsupported message: hologram]"


def test_it_keeps_a_message_without_id_or_timestamp_as_unreadable() -> None:
    for message in (
        b'{"type":"text","text":{"body":"hi"}}',
        b'{"id":"wamid.A","timestamp":"soon"}',
    ):
        (event,) = parse_webhook(_messages_body(message))
        assert isinstance(event, UnreadableItem) and event.item == "message"


def test_it_keeps_a_messages_value_it_cannot_read_as_one_unreadable_change() -> None:
    body = (
        b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":'
        b'[{"field":"messages","value":{"messages":{"not":"a list"}}}]}]}'
    )
    (event,) = parse_webhook(body)
    assert isinstance(event, UnreadableItem) and event.item == "change"


@pytest.mark.parametrize(
    "body",
    [
        b'{"object":"whatsapp_business_\x8daccount","entry":[]}',  # in the envelope
        b'{"object":"whatsapp_business_account","entry":[{"id":"1\xff","changes":[]}]}',
        _messages_body(b'{"id":"wamid.A","timestamp":"1767000000","text":{"body":"\xc3("}}'),
    ],
    ids=["envelope", "entry", "message"],
)
def test_it_refuses_a_body_that_is_not_utf8_wherever_the_bad_byte_is(body: bytes) -> None:
    # Found by the parser fuzz drill (docs/drills.md): msgspec raised UnicodeDecodeError.
    with pytest.raises(MalformedPayload, match="not UTF-8"):
        parse_webhook(body)


def test_it_reads_a_body_with_raw_utf8_text() -> None:
    message = '{"from":"972521234567","id":"wamid.U","timestamp":"1767000000","type":"text",'
    message += '"text":{"body":"שלום 👍"}}'
    (event,) = parse_webhook(_messages_body(message.encode()))
    assert isinstance(event, InboundMessage) and event.text == "שלום 👍"


@pytest.mark.parametrize(
    "change",
    [b"1e400", b'{"field":"messages","value":1e400}', b'{"field":"messages","value":[1e400]}'],
)
def test_a_change_holding_a_number_out_of_range_is_one_unreadable_change(change: bytes) -> None:
    # Found by the parser fuzz drill (docs/drills.md): reading the field of the odd change
    # decoded all of it and raised msgspec's "Number out of range".
    body = b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[%s]}]}' % change
    (event,) = parse_webhook(body)
    assert isinstance(event, UnreadableItem) and event.item == "change"
    assert event.path == "$.entry[0].changes[0]"
    assert event.field == ("messages" if change.startswith(b"{") else "")
