"""The sender of a message is resolved from ``from``/``from_user_id`` and contacts[]."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from ovenai.events import InboundMessage, UserIdentity, WebhookEvent
from ovenai.ingest.parse.body_parser import parse_webhook

Events = Callable[[str], list[WebhookEvent]]


def _only_message(events: list[WebhookEvent]) -> InboundMessage:
    (event,) = events
    assert isinstance(event, InboundMessage)
    return event


def _body(sender: dict[str, str], contacts: Sequence[object]) -> bytes:
    message = {"id": "wamid.A", "timestamp": "1767000000", "type": "text", "text": {"body": "hi"}}
    value = {
        "metadata": {"phone_number_id": "1"},
        "contacts": contacts,
        "messages": [message | sender],
    }
    change = {"field": "messages", "value": value}
    envelope = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}
    return json.dumps(envelope).encode()


def test_it_joins_the_phone_sender_with_its_contact_profile(events_of: Events) -> None:
    sender = _only_message(events_of("text_hebrew_emoji.json")).sender
    assert sender == UserIdentity(
        wa_id="972521234567", user_id="IL.5550001112223334445", profile_name="נועה בן דוד"
    )


def test_it_identifies_a_username_user_who_has_no_wa_id(events_of: Events) -> None:
    sender = _only_message(events_of("username_user_without_wa_id.json")).sender
    assert sender == UserIdentity(
        wa_id=None,
        user_id="IL.5550002223334445556",
        parent_user_id="IL.ENT.5550000000000000001",
        username="maya.tlv",
        profile_name="Maya",
    )


def test_it_treats_a_bsuid_in_from_as_the_user_id() -> None:
    contacts = [{"user_id": "IL.5550002223334445556", "profile": {"name": "Maya"}}]
    body = _body({"from": "IL.5550002223334445556"}, contacts)
    sender = _only_message(parse_webhook(body)).sender
    assert (sender.wa_id, sender.user_id, sender.profile_name) == (
        None,
        "IL.5550002223334445556",
        "Maya",
    )


def test_it_picks_the_matching_contact_among_several() -> None:
    contacts = [
        {"wa_id": "972521234567", "profile": {"name": "Noa"}},
        {
            "wa_id": "972541112233",
            "user_id": "IL.5550003334445556667",
            "profile": {"name": "Yossi"},
        },
    ]
    sender = _only_message(parse_webhook(_body({"from": "972541112233"}, contacts))).sender
    assert (sender.profile_name, sender.user_id) == ("Yossi", "IL.5550003334445556667")


def test_it_keeps_the_message_sender_when_no_contact_matches() -> None:
    contacts = [{"wa_id": "972521234567", "profile": {"name": "Noa"}}]
    sender = _only_message(parse_webhook(_body({"from": "972541112233"}, contacts))).sender
    assert sender == UserIdentity(wa_id="972541112233")


def test_it_skips_a_contact_it_cannot_read_and_keeps_the_message() -> None:
    contacts = [{"wa_id": 42}, {"wa_id": "972541112233", "profile": {"name": "Yossi"}}]
    sender = _only_message(parse_webhook(_body({"from": "972541112233"}, contacts))).sender
    assert sender.profile_name == "Yossi"
