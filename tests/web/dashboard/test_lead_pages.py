"""Dashboard pages show only what the signed-in user may see."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import event

from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import make_user, sign_in


def _lead(admin: httpx.Client, name: str, phone: str, agent_id: str | None) -> str:
    body = {"name": name, "phone": phone, "assigned_agent_id": agent_id}
    answer = admin.post("/api/v1/leads", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_an_agent_sees_own_leads_and_never_another_agents(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    me = make_user(clean_db, "dana.agent@agency.co.il", Role.AGENT)
    other = make_user(clean_db, "avi.agent@agency.co.il", Role.AGENT)
    mine = _lead(admin, "אורית גולן", "0501112233", me)
    theirs = _lead(admin, "שמעון פרץ", "0501112234", other)
    sign_in(browser_client, "dana.agent@agency.co.il")
    inbox = browser_client.get("/")
    assert "אורית גולן" in inbox.text and "שמעון פרץ" not in inbox.text
    page = browser_client.get(f"/leads/{mine}")
    assert page.status_code == 200 and "אורית גולן" in page.text
    denied = browser_client.get(f"/leads/{theirs}")
    assert denied.status_code == 404 and "שמעון" not in denied.text
    assert "text/html" in denied.headers["content-type"]


def test_pages_carry_the_security_headers(browser_client: httpx.Client) -> None:
    page = browser_client.get("/login")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_an_erased_lead_is_a_clear_410_page_and_leaves_the_inbox(
    browser_client: httpx.Client, admin: httpx.Client, clean_db: Settings
) -> None:
    me = make_user(clean_db, "dana.agent@agency.co.il", Role.AGENT)
    kept = _lead(admin, "אורית גולן", "0501112233", me)
    erased = _lead(admin, "שמעון פרץ", "0501112234", me)
    assert admin.post("/api/v1/privacy/erase", json={"phone": "0501112234"}).status_code == 200
    sign_in(browser_client, "dana.agent@agency.co.il")
    page = browser_client.get(f"/leads/{erased}")
    assert page.status_code == 410 and "text/html" in page.headers["content-type"]
    assert "<h1>הליד נמחק</h1>" in page.text and "שמעון" not in page.text
    assert erased not in page.text and "was erased" not in page.text
    inbox = browser_client.get("/")
    assert f"/leads/{kept}" in inbox.text and f"/leads/{erased}" not in inbox.text
    api = admin.get(f"/api/v1/leads/{erased}")  # the API's answer stays as it was
    assert (api.status_code, api.json()["error"]) == (410, "Gone")
    assert api.json()["message"] == f"lead {erased} was erased"


def test_a_lead_page_reads_in_one_connection_beside_the_headers(
    browser_client: httpx.Client, admin: httpx.Client, server: Any, clean_db: Settings
) -> None:
    """The page's dozen service calls share one pooled connection and transaction (each
    took its own: 16–18 a page); the header's look-ups (session, notifications, an admin's
    alerts) take theirs. Still audited and marked seen, as before."""
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    lead = _lead(admin, "נועה כהן", "0501112299", None)
    sign_in(browser_client, "boss@agency.co.il")
    db = server.server.config.app.state.db
    taken: list[int] = []

    def took(*_args: object) -> None:
        taken.append(1)

    counts = []
    event.listen(db.engine.sync_engine.pool, "checkout", took)
    try:
        for _ in range(3):  # the fewest of three: a background job may take one meanwhile
            taken.clear()
            assert browser_client.get(f"/leads/{lead}").status_code == 200
            counts.append(len(taken))
    finally:
        event.remove(db.engine.sync_engine.pool, "checkout", took)
    assert min(counts) <= 4, counts
    entries = admin.get("/api/v1/audit", params={"subject_id": lead}).json()
    actions = [entry["action"] for entry in entries]
    assert (actions.count("view"), actions.count("view_conversation")) == (3, 3)
