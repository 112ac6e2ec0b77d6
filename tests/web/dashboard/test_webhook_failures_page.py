"""The dashboard's webhook failures page: admins see it, in Hebrew; agents get 404."""

from __future__ import annotations

import time

import httpx

from ovenai.endpoints import WEBHOOK_PATH
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign
from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import make_user, sign_in

APP_SECRET = "test-app-secret"  # tests/conftest.py TEST_APP_SECRET
NO_WEBHOOK = b'{"object": "whatsapp_business_account", "entry": 5}'


def test_an_admin_sees_the_failed_bodies_and_an_agent_gets_404(
    browser_client: httpx.Client, anonymous: httpx.Client, clean_db: Settings
) -> None:
    headers = {SIGNATURE_HEADER: sign(NO_WEBHOOK, APP_SECRET), "Content-Type": "application/json"}
    assert anonymous.post(WEBHOOK_PATH, content=NO_WEBHOOK, headers=headers).status_code == 200
    make_user(clean_db, "owner@agency.co.il", Role.ADMIN)
    make_user(clean_db, "dana.agent@agency.co.il", Role.AGENT)
    sign_in(browser_client, "owner@agency.co.il")
    deadline = time.monotonic() + 15
    while "MalformedPayload" not in (page := browser_client.get("/admin/webhooks")).text:
        assert time.monotonic() < deadline, "the failed body was never listed"
        time.sleep(0.05)
    assert page.status_code == 200 and "תקלות webhook" in page.text and "נכשל" in page.text
    assert 'href="/admin/webhooks"' in browser_client.get("/").text

    browser_client.cookies.clear()
    sign_in(browser_client, "dana.agent@agency.co.il")
    denied = browser_client.get("/admin/webhooks")
    assert denied.status_code == 404 and "MalformedPayload" not in denied.text
    assert 'href="/admin/webhooks"' not in browser_client.get("/").text
    browser_client.cookies.clear()
    assert browser_client.get("/admin/webhooks", follow_redirects=False).status_code == 303
