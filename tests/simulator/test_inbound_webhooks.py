"""Inbound messages arrive as Meta-shaped webhooks, signed over the exact bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ovenai.simulator import meta_json, sign
from support.simulator_http import SimControl, WebhookReceiver

pytestmark = pytest.mark.anyio
SECRET = "test-app-secret"


def value_of(payload: dict[str, Any]) -> dict[str, Any]:
    change = payload["entry"][0]["changes"][0]
    value: dict[str, Any] = change["value"]
    return value


def test_meta_json_escapes_non_ascii_and_slashes_like_meta() -> None:
    body = meta_json({"text": "ש😀 https://x.co/a"})
    assert body == b'{"text":"\\u05e9\\ud83d\\ude00 https:\\/\\/x.co\\/a"}'
    assert json.loads(body) == {"text": "ש😀 https://x.co/a"}


def test_the_signature_is_a_known_answer() -> None:
    # Computed independently: printf '{"a":"\\u05e9"}' | openssl dgst -sha256 -hmac secret
    expected = "sha256=3ca929c353227df98e1479bc2c731a56c9c0a8b1031b6605ca417db3dc41a91f"
    assert sign("secret", meta_json({"a": "ש"})) == expected


async def test_a_hebrew_emoji_text_arrives_signed_over_the_escaped_bytes(
    control: SimControl, receiver: WebhookReceiver
) -> None:
    text = "שלום, מעוניינת בדירה 😀 https://example.co.il/apt/1"
    answer = await control.inbound(
        **{"from": "972521234567", "name": "נועה", "type": "text", "text": text}
    )
    assert answer["delivery"]["delivered"] and answer["delivery"]["attempts"] == 1
    (post,) = await receiver.wait_for(1)
    assert post.signed_with(SECRET)
    assert b"\\u05e9" in post.body and b"\\ud83d\\ude00" in post.body and b"\\/" in post.body
    assert not post.signed_with("another-secret")
    resigned = json.dumps(post.json()).encode()
    assert sign(SECRET, resigned) != post.signature
    value = value_of(post.json())
    assert value["metadata"] == {
        "display_phone_number": "97233760000",
        "phone_number_id": "420000000000002",
    }
    [contact] = value["contacts"]
    assert contact["profile"] == {"name": "נועה"} and contact["wa_id"] == "972521234567"
    assert contact["user_id"].startswith("IL.")  # every 2026 webhook carries a BSUID
    message = value["messages"][0]
    assert message["id"] == answer["message_id"] and message["text"] == {"body": text}
    assert message["from"] == "972521234567" and message["timestamp"].isdigit()


INBOUND_CASES: list[tuple[dict[str, Any], str, Any]] = [
    (
        {"type": "button_reply", "id": "slot:mon", "title": "יום שני"},
        "interactive",
        {"type": "button_reply", "button_reply": {"id": "slot:mon", "title": "יום שני"}},
    ),
    (
        {"type": "list_reply", "id": "apt4", "title": "4 חדרים"},
        "interactive",
        {"type": "list_reply", "list_reply": {"id": "apt4", "title": "4 חדרים"}},
    ),
    (
        {"type": "button", "payload": "lead:1:yes", "text": "מעוניין"},
        "button",
        {"payload": "lead:1:yes", "text": "מעוניין"},
    ),
    (
        {"type": "location", "latitude": 32.08, "longitude": 34.78, "name": "Tel Aviv"},
        "location",
        {"latitude": 32.08, "longitude": 34.78, "name": "Tel Aviv"},
    ),
    (
        {"type": "reaction", "message_id": "wamid.X", "emoji": "👍"},
        "reaction",
        {"message_id": "wamid.X", "emoji": "👍"},
    ),
    (
        {
            "type": "contacts",
            "contacts": [
                {"name": {"formatted_name": "Dana"}, "phones": [{"phone": "+972501111111"}]}
            ],
        },
        "contacts",
        [{"name": {"formatted_name": "Dana"}, "phones": [{"phone": "+972501111111"}]}],
    ),
    (
        {"type": "order", "catalog_id": "c1", "text": "", "product_items": []},
        "order",
        {"catalog_id": "c1", "text": "", "product_items": []},
    ),
    (
        {"type": "unsupported", "unsupported_type": "poll_creation"},
        "unsupported",
        {"type": "poll_creation"},
    ),
]


@pytest.mark.parametrize(("request_fields", "kind", "content"), INBOUND_CASES)
async def test_each_inbound_type_has_metas_shape(
    control: SimControl,
    receiver: WebhookReceiver,
    request_fields: dict[str, Any],
    kind: str,
    content: Any,
) -> None:
    await control.inbound(**{"from": "972521234567", "name": "Noa", **request_fields})
    (post,) = await receiver.wait_for(1)
    message = value_of(post.json())["messages"][0]
    assert (message["type"], message[kind]) == (kind, content)
    if kind == "unsupported":
        assert message["errors"][0]["code"] == 131051


async def test_an_image_carries_its_media_id_caption_and_context(
    control: SimControl, receiver: WebhookReceiver
) -> None:
    await control.inbound(
        **{
            "from": "972521234567",
            "type": "image",
            "media_id": "1034",
            "caption": "תלוש",
            "context": "wamid.OUT1",
        }
    )
    message = value_of((await receiver.wait_for(1))[0].json())["messages"][0]
    assert message["image"]["id"] == "1034" and message["image"]["caption"] == "תלוש"
    assert message["image"]["mime_type"] == "image/jpeg" and len(message["image"]["sha256"]) == 64
    assert message["context"] == {"from": "97233760000", "id": "wamid.OUT1"}


async def test_a_username_user_arrives_without_a_wa_id_and_with_a_referral(
    control: SimControl, receiver: WebhookReceiver
) -> None:
    referral = {"source_type": "ad", "source_id": "1202", "ctwa_clid": "Afz"}
    await control.inbound(
        **{
            "user_id": "IL.555",
            "username": "noa.k",
            "name": "Noa",
            "type": "text",
            "text": "hi",
            "referral": referral,
        }
    )
    value = value_of((await receiver.wait_for(1))[0].json())
    assert value["contacts"] == [
        {"profile": {"name": "Noa", "username": "noa.k"}, "user_id": "IL.555"}
    ]
    message = value["messages"][0]
    assert "from" not in message and message["from_user_id"] == "IL.555"
    assert message["referral"] == referral


@pytest.mark.parametrize(
    ("fields", "system"),
    [
        (
            {"system_type": "user_changed_number", "new_wa_id": "972529999999"},
            {"type": "user_changed_number", "wa_id": "972529999999", "new_wa_id": "972529999999"},
        ),
        (
            {"system_type": "user_changed_user_id", "new_user_id": "IL.777"},
            {"type": "user_changed_user_id", "user_id": "IL.777"},
        ),
    ],
)
async def test_system_messages_carry_the_new_identity_and_no_contacts(
    control: SimControl,
    receiver: WebhookReceiver,
    fields: dict[str, Any],
    system: dict[str, Any],
) -> None:
    await control.inbound(**{"from": "972521234567", "type": "system", **fields})
    value = value_of((await receiver.wait_for(1))[0].json())
    assert "contacts" not in value
    assert system.items() <= value["messages"][0]["system"].items()


async def test_a_stop_tap_arrives_as_user_preferences(
    control: SimControl, receiver: WebhookReceiver
) -> None:
    await control.inbound(
        **{"from": "972521234567", "user_id": "IL.1", "type": "user_preferences", "value": "stop"}
    )
    change = (await receiver.wait_for(1))[0].json()["entry"][0]["changes"][0]
    assert change["field"] == "user_preferences"
    preference = change["value"]["user_preferences"][0]
    assert preference["value"] == "stop" and preference["category"] == "marketing_messages"
    assert preference["wa_id"] == "972521234567" and isinstance(preference["timestamp"], int)


async def test_a_webhook_is_retried_until_it_gets_200(
    control: SimControl, receiver: WebhookReceiver
) -> None:
    receiver.fail_first = 2
    answer = await control.inbound(**{"from": "972521234567", "type": "text", "text": "hi"})
    assert answer["delivery"]["attempts"] == 3 and answer["delivery"]["delivered"]
    assert [r.answered for r in receiver.received] == [500, 500, 200]
    assert len({r.body for r in receiver.received}) == 1


async def test_retries_are_bounded(control: SimControl, receiver: WebhookReceiver) -> None:
    receiver.fail_first = 100
    await control.config(webhook_retry_attempts=3)
    answer = await control.inbound(**{"from": "972521234567", "type": "text", "text": "hi"})
    assert answer["delivery"] | {"body": None} == answer["delivery"] | {
        "attempts": 3,
        "delivered": False,
        "http_status": 500,
        "body": None,
    }
