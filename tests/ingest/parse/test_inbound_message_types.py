"""Every inbound message type Meta documents becomes a typed InboundMessage."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from ovenai.events import InboundMessage, WebhookEvent
from ovenai.events.content import (
    ContactsContent,
    InteractiveReplyContent,
    LocationContent,
    MediaContent,
    OrderContent,
    ReactionContent,
    SystemContent,
    TemplateButtonContent,
    TextContent,
    UnsupportedContent,
)
from ovenai.events.enums import InteractiveReplyType, MessageType, SystemChangeType
from ovenai.ingest.parse.body_parser import parse_webhook

Events = Callable[[str], list[WebhookEvent]]
OUTBOUND = "wamid.HBgMOTcyNTIxMjM0NTY3FQIAERgSRkFLRU9VVEJPVU5EMDAwMDAy"


@pytest.fixture
def message_of(events_of: Events) -> Callable[[str], InboundMessage]:
    """Parse a fixture holding exactly one inbound message and return it."""

    def only_message(name: str) -> InboundMessage:
        (event,) = events_of(name)
        assert isinstance(event, InboundMessage)
        return event

    return only_message


Message = Callable[[str], InboundMessage]


def test_it_reads_a_hebrew_emoji_text_sent_with_meta_escaping(message_of: Message) -> None:
    message = message_of("text_hebrew_emoji.json")
    assert message.content == TextContent(body=message.text)
    assert message.text == "שלום! אני מעוניינת בדירה 😀 https://example.co.il/apt/4711"
    assert message.type is MessageType.TEXT


def test_it_gives_the_wamid_timestamp_and_business_number(message_of: Message) -> None:
    message = message_of("text_hebrew_emoji.json")
    assert message.message_id == "wamid.HBgMOTcyNTIxMjM0NTY3FQIAEhggQTAwMDAw0001=="
    assert message.timestamp == datetime(2025, 12, 29, 9, 21, tzinfo=UTC)
    assert (message.phone_number_id, message.display_phone_number) == (
        "420000000000002",
        "97233760000",
    )
    assert message.waba_id == "310000000000001"


def test_it_keeps_the_quoted_message_of_a_reply(message_of: Message) -> None:
    context = message_of("text_with_context.json").context
    assert context is not None
    assert (context.from_number, context.quoted_message_id) == ("97233760000", OUTBOUND)
    assert not context.forwarded and not context.frequently_forwarded


@pytest.mark.parametrize(
    ("name", "kind", "text"),
    [
        ("image_with_caption.json", "image", "תמונה של הסלון"),
        ("document.json", "document", "תלוש משכורת"),
        ("audio.json", "audio", "[voice message]"),
        ("video.json", "video", "[video]"),
        ("sticker.json", "sticker", "[sticker]"),
    ],
)
def test_it_reads_media_with_id_mime_type_and_hash(
    message_of: Message, name: str, kind: str, text: str
) -> None:
    message = message_of(name)
    assert isinstance(message.content, MediaContent)
    assert message.content.media_kind == kind == message.type_raw
    assert message.content.media_id and message.content.sha256 and message.content.mime_type
    assert message.text == text


def test_it_keeps_a_documents_file_name(message_of: Message) -> None:
    content = message_of("document.json").content
    assert isinstance(content, MediaContent)
    assert (content.filename, content.mime_type) == ("payslip-2026-11.pdf", "application/pdf")


def test_it_marks_a_voice_note(message_of: Message) -> None:
    content = message_of("audio.json").content
    assert isinstance(content, MediaContent) and content.voice


def test_it_reads_a_location_with_its_place_name(message_of: Message) -> None:
    message = message_of("location.json")
    assert message.content == LocationContent(
        latitude=32.0853, longitude=34.7818, name="כיכר דיזנגוף", address="דיזנגוף, תל אביב-יפו"
    )
    assert message.text == "כיכר דיזנגוף, דיזנגוף, תל אביב-יפו"


def test_it_reads_every_shared_contact_card(message_of: Message) -> None:
    content = message_of("contacts.json").content
    assert isinstance(content, ContactsContent)
    assert [c.formatted_name for c in content.contacts] == ["יוסי כהן", "Dana Levi"]
    assert content.contacts[0].phones[0].wa_id == "972541112233"
    assert content.contacts[0].emails == ("yossi@example.co.il",)


def test_it_reads_a_reply_button_tap(message_of: Message) -> None:
    message = message_of("interactive_button_reply.json")
    assert isinstance(message.content, InteractiveReplyContent)
    assert message.content.reply_type is InteractiveReplyType.BUTTON_REPLY
    assert (message.content.reply_id, message.text) == ("lead:4711:book_visit", "לתאם סיור")


def test_it_reads_a_list_row_with_its_description(message_of: Message) -> None:
    content = message_of("interactive_list_reply.json").content
    assert isinstance(content, InteractiveReplyContent)
    assert content.reply_type is InteractiveReplyType.LIST_REPLY
    assert (content.reply_id, content.title, content.description) == (
        "type:apt3",
        "3 חדרים",
        "עד 2.5 מיליון",
    )


def test_it_reads_a_template_quick_reply_with_our_payload(message_of: Message) -> None:
    message = message_of("template_button.json")
    assert message.content == TemplateButtonContent(
        payload="lead:4711:interested", text="מעוניין/ת"
    )
    assert message.text == "מעוניין/ת"


def test_it_reads_a_reaction_to_our_message(message_of: Message) -> None:
    content = message_of("reaction.json").content
    assert content == ReactionContent(message_id=OUTBOUND, emoji="👍")
    assert not content.removed


def test_it_reads_an_empty_emoji_as_a_removed_reaction(message_of: Message) -> None:
    message = message_of("reaction_removed.json")
    assert isinstance(message.content, ReactionContent) and message.content.removed
    assert message.text == "[reaction removed]"


def test_it_reads_every_line_of_an_order(message_of: Message) -> None:
    content = message_of("order.json").content
    assert isinstance(content, OrderContent)
    assert [(i.product_retailer_id, i.quantity, i.item_price) for i in content.items] == [
        ("apt-4711", 1, 2450000),
        ("parking-12", 2, 95000.5),
    ]


def test_it_reads_a_changed_number_with_the_new_wa_id(message_of: Message) -> None:
    message = message_of("system_user_changed_number.json")
    assert isinstance(message.content, SystemContent)
    assert message.content.change_type is SystemChangeType.USER_CHANGED_NUMBER
    assert message.content.new_wa_id == "972529876543"
    assert message.sender.wa_id == "972521234567"


def test_it_reads_a_changed_bsuid_with_the_new_user_id(message_of: Message) -> None:
    message = message_of("system_user_changed_user_id.json")
    assert isinstance(message.content, SystemContent)
    assert message.content.change_type is SystemChangeType.USER_CHANGED_USER_ID
    assert message.content.new_user_id == "IL.5550009998887776665"
    assert message.sender.user_id == "IL.5550001112223334445"


def test_it_keeps_an_unsupported_message_with_its_type_and_errors(message_of: Message) -> None:
    message = message_of("unsupported.json")
    assert isinstance(message.content, UnsupportedContent)
    assert (message.content.raw_type, message.content.subtype) == ("unsupported", "poll_creation")
    assert message.errors[0].code == 131051
    assert message.errors[0].details == "Message type is currently not supported."
    assert message.text == "[unsupported message: poll_creation]"


def test_it_keeps_the_click_to_whatsapp_ad_a_lead_came_from(message_of: Message) -> None:
    referral = message_of("referral_ctwa.json").referral
    assert referral is not None
    assert (referral.source_type, referral.source_id, referral.ctwa_clid) == (
        "ad",
        "120200000000000001",
        "Afz-FAKE-CLICK-ID",
    )
    assert (referral.headline, referral.media_type) == ("דברו איתנו", "image")
    assert referral.welcome_message_text == "היי! איך אפשר לעזור?"


def _one_message(fields: dict[str, object]) -> InboundMessage:
    message = {"from": "972521234567", "id": "wamid.A", "timestamp": "1767000000"} | fields
    change = {"field": "messages", "value": {"messages": [message]}}
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}
    (event,) = parse_webhook(json.dumps(body).encode())
    assert isinstance(event, InboundMessage)
    return event


def test_it_flags_a_frequently_forwarded_message() -> None:
    context = {"forwarded": True, "frequently_forwarded": True}
    message = _one_message({"type": "text", "text": {"body": "fwd"}, "context": context})
    assert message.context is not None and message.context.frequently_forwarded


def test_it_keeps_the_product_a_lead_asked_about() -> None:
    product = {"catalog_id": "760000000000001", "product_retailer_id": "apt-4711"}
    context = {"from": "97233760000", "id": "wamid.P", "referred_product": product}
    message = _one_message({"type": "text", "text": {"body": "?"}, "context": context})
    assert message.context is not None
    assert message.context.referred_product_retailer_id == "apt-4711"


def test_it_reads_a_completed_flow_with_its_response_json() -> None:
    reply = {"name": "flow", "body": "Sent", "response_json": '{"flow_token":"lead-4711"}'}
    message = _one_message(
        {"type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": reply}}
    )
    assert isinstance(message.content, InteractiveReplyContent)
    assert message.content.reply_type is InteractiveReplyType.NFM_REPLY
    assert message.content.flow_response_json == '{"flow_token":"lead-4711"}'
    assert message.text == "Sent"
