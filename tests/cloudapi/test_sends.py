"""Each kind of send succeeds against the simulator and returns a typed result."""

from __future__ import annotations

from typing import Any

import pytest

from ovenai.cloudapi import CloudApiClient, QuickReplyButton, ReplyButton, UrlButton
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio
LEAD = "+972501234567"


async def test_it_sends_a_positional_template_and_returns_the_wamid(
    client: CloudApiClient, control: SimControl
) -> None:
    result = await client.send_template(
        to=LEAD, name="welcome_new_lead_he", language="he", body_params=["נועה", "הרצל"]
    )
    assert result.message_id.startswith("wamid.")
    assert (result.input, result.wa_id, result.message_status) == (LEAD, "972501234567", "accepted")
    outbox = await control.outbox()
    sent = outbox["messages"][0]
    assert sent["id"] == result.message_id
    params = sent["body"]["template"]["components"][0]["parameters"]
    assert [p["text"] for p in params] == ["נועה", "הרצל"]


async def test_it_sends_named_params_header_and_buttons(
    client: CloudApiClient, control: SimControl
) -> None:
    components: list[dict[str, Any]] = [
        {
            "type": "HEADER",
            "format": "TEXT",
            "text": "דירה ב{{city}}",
            "example": {"header_text_named_params": [{"param_name": "city", "example": "חיפה"}]},
        },
        {
            "type": "BODY",
            "text": "שלום {{first_name}}, מחיר הדירה {{price}} וכדאי לתאם צפייה בקרוב.",
            "example": {
                "body_text_named_params": [
                    {"param_name": "first_name", "example": "נועה"},
                    {"param_name": "price", "example": "₪2,450,000"},
                ]
            },
        },
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "מעוניין"}]},
    ]
    await client.create_template(
        name="named_offer",
        language="he",
        category="UTILITY",
        components=components,
        parameter_format="NAMED",
    )
    await control.review(name="named_offer", status="APPROVED")
    result = await client.send_template(
        to=LEAD,
        name="named_offer",
        language="he",
        body_params={"first_name": "נועה", "price": "₪2,450,000"},
        header_params={"city": "חיפה"},
        buttons=[QuickReplyButton(0, "lead:1:yes"), UrlButton(1, "apt/4711")],
    )
    assert result.message_id
    body = (await control.outbox())["messages"][0]["body"]["template"]
    assert body["components"][1]["parameters"][0]["parameter_name"] == "first_name"
    assert body["components"][2] == {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "0",
        "parameters": [{"type": "payload", "payload": "lead:1:yes"}],
    }


async def test_it_sends_text_inside_the_window(client: CloudApiClient, control: SimControl) -> None:
    await control.inbound(**{"from": "972501234567", "name": "Noa", "type": "text", "text": "hi"})
    result = await client.send_text(to=LEAD, text="https://example.co.il/apt/1", preview_url=True)
    body = (await control.outbox())["messages"][0]["body"]
    assert body["text"] == {"body": "https://example.co.il/apt/1", "preview_url": True}
    assert result.message_status is None


@pytest.mark.parametrize("kind", ["image", "document", "audio", "video", "sticker"])
async def test_it_sends_media_by_link_and_by_uploaded_id(
    client: CloudApiClient, control: SimControl, kind: str
) -> None:
    await control.inbound(**{"from": "972501234567", "type": "text", "text": "send photos"})
    png = b"\x89PNG\r\n\x1a\n..."
    media_id = await client.upload_media(png, mime_type="image/png", filename="a.png")
    await client.send_media(to=LEAD, kind=kind, media_id=media_id, caption="תוכנית")  # type: ignore[arg-type]
    await client.send_media(to=LEAD, kind=kind, link="https://files.example/x", filename="x.pdf")  # type: ignore[arg-type]
    first, second = [m["body"][kind] for m in (await control.outbox())["messages"]]
    assert first["id"] == media_id and second["link"] == "https://files.example/x"
    assert ("caption" in first) == (kind not in ("audio", "sticker"))
    assert ("filename" in second) == (kind == "document")


async def test_it_sends_interactive_buttons(client: CloudApiClient, control: SimControl) -> None:
    await control.inbound(**{"from": "972501234567", "type": "text", "text": "when?"})
    buttons = [ReplyButton("slot:mon", "יום שני"), ReplyButton("slot:wed", "יום רביעי")]
    await client.send_interactive_buttons(to=LEAD, body="מתי נוח לך?", buttons=buttons)
    sent = (await control.outbox())["messages"][0]["body"]["interactive"]
    assert [b["reply"]["id"] for b in sent["action"]["buttons"]] == ["slot:mon", "slot:wed"]


async def test_it_marks_a_message_read(client: CloudApiClient, control: SimControl) -> None:
    inbound = await control.inbound(**{"from": "972501234567", "type": "text", "text": "hi"})
    await client.mark_read(inbound["message_id"], typing=True)
    reads = (await control.outbox())["reads"]
    assert reads[0]["message_id"] == inbound["message_id"]


async def test_it_sends_to_a_bsuid_recipient_and_reports_the_user_id(
    client: CloudApiClient, control: SimControl
) -> None:
    user = "IL.5550001112223334445"
    await control.inbound(**{"user_id": user, "username": "noa", "type": "text", "text": "hi"})
    result = await client.send_text(recipient=user, text="שלום")
    assert (result.user_id, result.wa_id, result.input) == (user, None, user)
    assert (await control.outbox())["messages"][0]["body"]["recipient"] == user


async def test_every_accepted_send_gets_a_unique_wamid(client: CloudApiClient) -> None:
    ids = {
        (
            await client.send_template(
                to=LEAD, name="meeting_reminder_en", language="en", body_params=["Noa", "10:00"]
            )
        ).message_id
        for _ in range(20)
    }
    assert len(ids) == 20


async def test_the_raw_layer_takes_and_gives_dicts(client: CloudApiClient) -> None:
    body = {
        "messaging_product": "whatsapp",
        "to": LEAD,
        "type": "template",
        "template": {
            "name": "welcome_new_lead_en",
            "language": {"code": "en"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Noa"},
                        {"type": "text", "text": "Haifa"},
                    ],
                }
            ],
        },
    }
    answer = await client.send_raw(body)
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": LEAD, "wa_id": "972501234567"}]
