"""/api/v1/webhooks/failures over HTTP: admins see what could not be read; agents get 403."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from ovenai.endpoints import WEBHOOK_PATH
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign

APP_SECRET = "test-app-secret"  # tests/conftest.py TEST_APP_SECRET
URL = "/api/v1/webhooks/failures"


def body_with_an_unreadable_message() -> bytes:
    """A messages change whose first message has no id and whose second is sound."""
    sent = {"from": "972521234567", "timestamp": "1767000000", "type": "text"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "97233760000", "phone_number_id": "420000000000002"},
        "contacts": [{"profile": {"name": "Noa"}, "wa_id": "972521234567"}],
        "messages": [
            {**sent, "text": {"body": "בלי מזהה"}},
            {"id": "wamid.API1", **sent, "text": {"body": "שלום"}},
        ],
    }
    change = {"field": "messages", "value": value}
    entry = {"id": "310000000000001", "changes": [change]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def post_webhook(client: httpx.Client, raw: bytes) -> None:
    headers = {SIGNATURE_HEADER: sign(raw, APP_SECRET), "Content-Type": "application/json"}
    assert client.post(WEBHOOK_PATH, content=raw, headers=headers).status_code == 200


def listed(admin: httpx.Client, expected: int) -> list[dict[str, Any]]:
    """The listing once the server's processor has settled the bodies posted."""
    deadline = time.monotonic() + 15
    while True:
        answer = admin.get(URL)
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()
        if len(found) >= expected:
            return found
        assert time.monotonic() < deadline, f"never listed: {found}"
        time.sleep(0.05)


def test_an_admin_lists_bodies_with_the_items_that_could_not_be_read(
    admin: httpx.Client, anonymous: httpx.Client
) -> None:
    post_webhook(anonymous, body_with_an_unreadable_message())
    post_webhook(anonymous, b'{"object": "whatsapp_business_account", "entry": 5}')
    found = listed(admin, 2)

    broken, partial = found  # newest first
    assert list(partial) == ["id", "received_at", "status", "error", "items"]
    assert (partial["status"], partial["error"]) == ("processed", None)
    (item,) = partial["items"]
    assert list(item) == ["item", "field", "path", "problem", "first_seen", "last_seen"]
    assert (item["item"], item["field"]) == ("message", "messages")
    assert item["path"].startswith("$") and "`id`" in item["problem"]
    assert (broken["status"], broken["items"]) == ("failed", [])
    assert broken["error"].startswith("MalformedPayload")
    assert "בלי מזהה" not in json.dumps(found, ensure_ascii=False)
    later = admin.get(URL, params={"since": "2099-01-01T00:00:00+00:00"})
    assert later.status_code == 200 and later.json() == []


def test_an_agent_may_not_read_the_webhook_failures(
    agent: httpx.Client, anonymous: httpx.Client
) -> None:
    assert agent.get(URL).status_code == 403
    assert anonymous.get(URL).status_code == 401
