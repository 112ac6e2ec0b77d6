"""Posting a lead's text message to the running product as Meta posts it (signed, with the
``contacts`` block), for tests that drive the product over HTTP."""

from __future__ import annotations

import json

import httpx

from ovenai.endpoints import WEBHOOK_PATH
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign

APP_SECRET = "test-app-secret"  # tests/conftest.py TEST_APP_SECRET: the live server's


def text_message(wa_id: str, text: str, ts: int, *, name: str = "Noa") -> bytes:
    """A webhook body with one text message from ``wa_id`` at ``ts`` (Unix seconds)."""
    message = {"from": wa_id, "id": f"wamid.{wa_id}.{ts}", "timestamp": str(ts), "type": "text"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "97233760000", "phone_number_id": "420000000000002"},
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
        "messages": [{**message, "text": {"body": text}}],
    }
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "310000000000001", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(envelope).encode()


def post_text(client: httpx.Client, wa_id: str, text: str, ts: int, *, name: str = "Noa") -> None:
    """Post one text message from ``wa_id``; the product must acknowledge it (200)."""
    raw = text_message(wa_id, text, ts, name=name)
    headers = {SIGNATURE_HEADER: sign(raw, APP_SECRET), "Content-Type": "application/json"}
    assert client.post(WEBHOOK_PATH, content=raw, headers=headers).status_code == 200
