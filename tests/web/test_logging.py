"""No secret and no phone number ever reaches a log line."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from ovenai.endpoints import WEBHOOK_PATH
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign
from ovenai.settings import Settings


def test_requests_are_logged_without_secrets_or_query_strings(
    caplog: pytest.LogCaptureFixture,
    server: Any,
    settings: Settings,
    personas: dict[str, Any],
) -> None:
    admin = personas["admin"].client
    token = admin.headers["Authorization"].split()[1]
    verify = settings.secret("whatsapp_webhook_verify_token")
    app_secret = settings.secret("whatsapp_app_secret")
    with caplog.at_level(logging.DEBUG):
        admin.post("/api/v1/leads", json={"name": "רות", "phone": "0521112222"})
        admin.get("/api/v1/leads", params={"phone": "0521112222"})
        httpx.get(
            f"{server.url}{WEBHOOK_PATH}",
            params={"hub.mode": "subscribe", "hub.verify_token": verify, "hub.challenge": "7"},
        )
        body = b'{"object":"whatsapp_business_account","entry":[]}'
        httpx.post(
            f"{server.url}{WEBHOOK_PATH}",
            content=body,
            headers={SIGNATURE_HEADER: sign(body, app_secret)},
        )
        httpx.get(f"{server.url}/api/v1/leads", headers={"Authorization": "Bearer ovn_wrong"})
    # The test's own HTTP client (httpx) logs its URLs; only the product's lines count.
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in server_side)
    assert "GET /api/v1/leads 200" in logged  # the access log is on
    for secret in (token, verify, app_secret, settings.secret("encryption_keys"), "0521112222"):
        assert secret not in logged
    assert "972521112222" not in logged and "ovn_wrong" not in logged
