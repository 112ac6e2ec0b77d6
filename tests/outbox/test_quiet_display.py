"""A marketing message held by a quiet time says when it will leave: the REST answer to the
send, the message and the conversation (`held`), and the lead page ("ממתינה לצאת ב־…")."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine

from conftest import LiveServer
from ovenai.models import Role
from ovenai.settings import Settings
from ovenai.web.app import create_app
from support.dashboard import make_user, sign_in
from support.templates import seed_templates

IL = ZoneInfo("Asia/Jerusalem")
SATURDAY = datetime(2026, 12, 12, 12, 0, tzinfo=IL)  # nightfall in Jerusalem: 17:15
AGENT = "noa.agent@agency.co.il"
MARKETING = {"template": "property_details", "params": ["נועה", "חיפה", "4", "95", "₪2,450,000"]}
REMINDER = {"template": "meeting_reminder", "params": ["נועה", "10:00"]}


@pytest.fixture
def on_shabbat() -> Iterator[None]:
    with time_machine.travel(SATURDAY, tick=True):
        yield


@pytest.fixture(scope="module")
def quiet_server(settings: Settings) -> Iterator[LiveServer]:
    """The product with quiet times on (the tests' settings have them off: tests/conftest.py)."""
    on = {"quiet_nights": True, "quiet_shabbat": True, "quiet_holidays": True}
    with LiveServer(create_app(settings.model_copy(update=on))) as live:
        yield live


@pytest.fixture
def browser(
    quiet_server: LiveServer, clean_db: Settings, on_shabbat: None
) -> Iterator[httpx.Client]:
    headers = {"Accept": "text/html"}
    with httpx.Client(base_url=quiet_server.url, headers=headers, timeout=10) as c:
        yield c


def test_the_api_and_the_lead_page_say_when_a_held_message_leaves_and_why(
    on_shabbat: None,
    quiet_server: LiveServer,
    personas: dict[str, Any],
    browser: httpx.Client,
    clean_db: Settings,
) -> None:
    token = personas["admin"].client.headers["Authorization"]
    with httpx.Client(
        base_url=quiet_server.url, headers={"Authorization": token}, timeout=10
    ) as admin:
        _check(admin, browser, clean_db)


def _check(admin: httpx.Client, browser: httpx.Client, clean_db: Settings) -> None:
    seed_templates(clean_db)
    agent_id = make_user(clean_db, AGENT, Role.AGENT)
    body = {
        "name": "נועה",
        "phone": "0501117788",
        "assigned_agent_id": agent_id,
        "opted_in": True,
        "consent_words": "כן, שלחו לי נכסים",
    }
    lead = admin.post("/api/v1/leads", json=body).json()["id"]

    queued = admin.post(f"/api/v1/leads/{lead}/messages", json=MARKETING)
    reminder = admin.post(f"/api/v1/leads/{lead}/messages", json=REMINDER)

    assert queued.status_code == 202, queued.text
    held = queued.json()["held"]
    assert held["reason"] == {"kind": "shabbat", "name_en": "Shabbat", "name_he": "שבת"}
    until = datetime.fromisoformat(held["until"])
    assert until.utcoffset() == SATURDAY.utcoffset()  # shown in Israel's time
    assert datetime(2026, 12, 12, 17, 15, tzinfo=IL) <= until
    assert until < datetime(2026, 12, 12, 17, 25, tzinfo=IL)
    assert datetime.fromisoformat(queued.json()["send_at"]) == until
    assert reminder.status_code == 202 and reminder.json()["held"] is None

    message = admin.get(f"/api/v1/messages/{queued.json()['id']}").json()
    assert message["held"] == held
    listed = {m["id"]: m for m in admin.get(f"/api/v1/leads/{lead}/messages").json()}
    assert listed[queued.json()["id"]]["held"] == held
    assert listed[reminder.json()["id"]]["held"] is None

    assert sign_in(browser, AGENT).status_code == 303
    page = html.unescape(browser.get(f"/leads/{lead}").text)
    assert f"ממתינה לצאת ב־12/12/2026 {until:%H:%M}, שבת" in page
    assert page.count('class="held"') == 1  # the reminder is not held
