"""Notifications on the dashboard and through the API, from the live server: a lead's tap on
"confirm" (a signed webhook the server applies with the default rules) notifies the lead's
agent — the /notifications page lists it, the header counts it until it is marked read, and
the lead page shows what fired; through the API each agent reads and marks only their
own."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from tests.conftest import Persona

from automation.test_rules_on_inbound import button_body
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign
from ovenai.models import Role
from ovenai.settings import Settings
from support.automation import seed_default_rules
from support.dashboard import csrf_of, make_user, sign_in

APP_SECRET = "test-app-secret"  # tests/conftest.py TEST_APP_SECRET
AGENT = "rina@agency.co.il"
CONFIRMED = "הליד אישר/ה את הצפייה בכפתור."
UNREAD = re.compile(r'<span class="unread-count"[^>]*>(\d+)</span>')


def _viewing(admin: httpx.Client, agent_id: str, phone: str) -> tuple[str, str]:
    """A lead of the agent and a proposed viewing tomorrow; (lead id, meeting id)."""
    lead = admin.post(
        "/api/v1/leads", json={"name": "יעל כהן", "phone": phone, "assigned_agent_id": agent_id}
    )
    assert lead.status_code == 201, lead.text
    starts = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    meeting = admin.post(
        "/api/v1/meetings", json={"lead_id": lead.json()["id"], "starts_at": starts.isoformat()}
    )
    assert meeting.status_code == 201, meeting.text
    return lead.json()["id"], meeting.json()["id"]


def _tap(client: httpx.Client, wa_id: str, meeting_id: str) -> None:
    raw = button_body(
        f"wamid.notify.{time.monotonic_ns()}",
        f"viewing_confirm:{meeting_id}",
        "מאשר/ת",
        wa_id=wa_id,
        ts=int(time.time()),
    )
    headers = {SIGNATURE_HEADER: sign(raw, APP_SECRET), "Content-Type": "application/json"}
    assert client.post(WEBHOOK_PATH, content=raw, headers=headers).status_code == 200


def _until(fetch: Callable[[], httpx.Response], wanted: str) -> httpx.Response:
    """The answer of ``fetch()`` once it shows ``wanted`` (the server applies webhooks on
    its own time)."""
    deadline = time.monotonic() + 15
    while wanted not in (answer := fetch()).text:
        assert time.monotonic() < deadline, f"{wanted!r} never appeared"
        time.sleep(0.05)
    return answer


def test_the_agent_sees_the_notification_counts_it_and_marks_it_read(
    browser_client: httpx.Client, admin: httpx.Client, anonymous: httpx.Client, clean_db: Settings
) -> None:
    seed_default_rules(clean_db)
    agent_id = make_user(clean_db, AGENT, Role.AGENT)
    lead, meeting = _viewing(admin, agent_id, "0501112233")
    sign_in(browser_client, AGENT)
    home = browser_client.get("/")
    assert 'href="/notifications"' in home.text and not UNREAD.search(home.text)

    _tap(anonymous, "972501112233", meeting)
    _until(lambda: browser_client.get("/notifications"), CONFIRMED)
    # Loaded again once it is there: the header's count is read before the page's list, so
    # the load during which the processor committed it may list it without counting it yet.
    page = browser_client.get("/notifications")
    assert page.status_code == 200 and "<h1>התראות</h1>" in page.text
    assert f'href="/leads/{lead}"' in page.text
    assert [int(n) for n in UNREAD.findall(page.text)] == [1]
    assert page.text.count('class="notification unread"') == 1

    shown = browser_client.get(f"/leads/{lead}")
    assert shown.status_code == 200 and "אוטומציה לליד הזה" in shown.text
    fired = shown.text.split('class="lead-automation"')[1].split("</section>")[0]
    assert "notify_viewing_confirmed" in fired and "notified rina@agency.co.il" in fired
    assert "viewing_taps" in fired and "confirmed by the lead" in fired

    token = csrf_of(page)
    assert browser_client.post("/notifications/read", data={}).status_code == 403  # no token
    marked = browser_client.post("/notifications/read", data={"csrf": token})
    assert marked.status_code == 303 and marked.headers["location"] == "/notifications"
    after = browser_client.get("/notifications")
    assert not UNREAD.search(after.text) and 'class="notification read"' in after.text


def test_the_page_in_english(browser_client: httpx.Client, clean_db: Settings) -> None:
    make_user(clean_db, AGENT, Role.AGENT)
    sign_in(browser_client, AGENT)
    token = csrf_of(browser_client.get("/account"))
    chosen = browser_client.post("/account/language", data={"language": "en", "csrf": token})
    assert chosen.status_code == 303
    page = browser_client.get("/notifications")
    assert "<h1>Notifications</h1>" in page.text and "No notifications" in page.text


def test_through_the_api_each_agent_reads_and_marks_only_their_own(
    admin: httpx.Client,
    agent: httpx.Client,
    personas: dict[str, Persona],
    anonymous: httpx.Client,
    clean_db: Settings,
) -> None:
    seed_default_rules(clean_db)
    dana = personas["agent"]
    other = personas["other_agent"]
    lead, meeting = _viewing(admin, dana.user_id, "0501112244")
    _tap(anonymous, "972501112244", meeting)
    listed = _until(lambda: agent.get("/api/v1/notifications?unread=true"), CONFIRMED).json()
    [item] = listed["items"]
    assert (item["text"], item["lead_id"], item["read_at"]) == (CONFIRMED, lead, None)
    yossi = other.client
    assert yossi.get("/api/v1/notifications").json()["items"] == []
    assert yossi.post(f"/api/v1/notifications/{item['id']}/read").status_code == 404
    one = agent.post(f"/api/v1/notifications/{item['id']}/read")
    assert one.status_code == 200 and one.json() == {"marked": 1}
    assert agent.get("/api/v1/notifications?unread=true").json()["items"] == []
    assert agent.post("/api/v1/notifications/read").json() == {"marked": 0}
    [read] = agent.get("/api/v1/notifications").json()["items"]
    assert read["read_at"] is not None
