"""Every inbound message type becomes a conversation message with its meaning kept."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from ovenai.ingest.parse.body_parser import parse_webhook

pytestmark = pytest.mark.anyio

TYPES = {
    "text_hebrew_emoji.json": "text",
    "image_with_caption.json": "image",
    "video.json": "video",
    "audio.json": "audio",
    "document.json": "document",
    "sticker.json": "sticker",
    "location.json": "location",
    "contacts.json": "contacts",
    "interactive_button_reply.json": "interactive",
    "interactive_list_reply.json": "interactive",
    "template_button.json": "button",
    "reaction.json": "reaction",
    "order.json": "order",
    "system_user_changed_number.json": "system",
    "unsupported.json": "unsupported",
    "referral_ctwa.json": "text",
    "text_with_context.json": "text",
    "username_user_without_wa_id.json": "text",
}


@pytest.mark.parametrize("fixture", sorted(TYPES))
async def test_each_type_becomes_a_message_with_its_meaning(
    harness, load_payload: Callable[[str], bytes], fixture: str
) -> None:
    raw = load_payload(fixture)
    inbound = [e for e in parse_webhook(raw) if type(e).__name__ == "InboundMessage"]
    await harness.deliver(raw)
    for event in inbound:
        message = await harness.message(event.message_id)
        assert message.direction == "inbound"
        assert message.type == TYPES[fixture]
        payload = await harness.payload(event.message_id)
        assert payload["content"]["kind"] == event.content.__struct_config__.tag
        records = await harness.conversation(message.lead_id)
        assert [r.text for r in records if r.wa_message_id == event.message_id] == [event.text]


async def test_media_keeps_its_caption_and_media_id(harness, load_payload) -> None:
    raw = load_payload("image_with_caption.json")
    (event,) = parse_webhook(raw)
    await harness.deliver(raw)
    content = (await harness.payload(event.message_id))["content"]
    assert content["media_id"] == event.content.media_id
    assert content["caption"] == event.content.caption


async def test_a_reply_links_the_message_it_answers(harness, load_payload) -> None:
    raw = load_payload("text_with_context.json")
    (event,) = parse_webhook(raw)
    await harness.deliver(raw)
    assert (await harness.message(event.message_id)).context_wa_message_id == (
        event.context.quoted_message_id
    )


async def test_a_button_reply_links_the_message_with_the_button(harness, load_payload) -> None:
    raw = load_payload("interactive_button_reply.json")
    (event,) = parse_webhook(raw)
    await harness.deliver(raw)
    payload = await harness.payload(event.message_id)
    assert payload["content"]["reply_id"] == event.content.reply_id
    assert (await harness.message(event.message_id)).context_wa_message_id is not None


async def test_a_reaction_links_the_reacted_message(harness, load_payload) -> None:
    raw = load_payload("reaction.json")
    (event,) = parse_webhook(raw)
    await harness.deliver(raw)
    message = await harness.message(event.message_id)
    assert message.context_wa_message_id == event.content.message_id


@pytest.mark.parametrize(
    "fixture", ["referral_ctwa.json", "text_with_context.json", "unsupported.json"]
)
async def test_the_payload_keeps_the_context_referral_errors_and_number_of_the_message(
    harness, load_payload: Callable[[str], bytes], fixture: str
) -> None:
    raw = load_payload(fixture)
    (event,) = [e for e in parse_webhook(raw) if type(e).__name__ == "InboundMessage"]
    await harness.deliver(raw)
    payload = await harness.payload(event.message_id)
    meaning = {"context": event.context, "referral": event.referral, "errors": event.errors}
    expected = msgspec.json.decode(msgspec.json.encode(meaning))
    assert {key: payload[key] for key in expected} == expected
    assert payload["phone_number_id"] == event.phone_number_id is not None


@pytest.mark.parametrize("fixture", ["text_hebrew_emoji.json", "system_user_changed_number.json"])
async def test_an_inbound_message_is_stamped_with_meta_s_time_and_never_attempted(
    harness, load_payload: Callable[[str], bytes], fixture: str
) -> None:
    """Both ways in: a run's bulk insert, and a message applied alone (a number change)."""
    raw = load_payload(fixture)
    (event,) = [e for e in parse_webhook(raw) if type(e).__name__ == "InboundMessage"]
    await harness.deliver(raw)
    message = await harness.message(event.message_id)
    times = (message.created_at, message.status_at, message.updated_at)
    assert times == (event.timestamp,) * 3
    assert (message.status, message.attempts) == ("received", 0)


@pytest.mark.parametrize(
    ("type_raw", "stored"), [("x" * 30, "x" * 24), ("y" * 24, "y" * 24), ("", "unknown")]
)
async def test_an_unknown_type_is_kept_to_24_characters(
    bodies, harness, type_raw: str, stored: str
) -> None:
    message = {"from": "972521234567", "id": "wamid.odd", "timestamp": "1767000000"}
    contact = {"profile": {"name": "Noa"}, "wa_id": "972521234567"}
    await harness.deliver(
        bodies.envelope({"contacts": [contact], "messages": [message | {"type": type_raw}]})
    )
    assert (await harness.message("wamid.odd")).type == stored
