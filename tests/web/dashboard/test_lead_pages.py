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


class _Sent:
    """What the server sent its main database while a page was drawn."""

    def __init__(self) -> None:
        self.connections = 0
        self.statements: list[str] = []
        self.transaction_ends = 0  # BEGIN, COMMIT, ROLLBACK: round trips too

    def took(self, *_args: object) -> None:
        self.connections += 1

    def sent(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        self.statements.append(" ".join(statement.split()))

    def ended(self, *_args: object) -> None:
        self.transaction_ends += 1

    def lead_reads(self) -> int:
        """Statements that read a lead's whole row by its id (each service's check)."""
        return sum(
            s.startswith("SELECT leads.id, ") and "WHERE leads.id = " in s for s in self.statements
        )


def _page_sent(client: httpx.Client, db: Any, path: str) -> _Sent:
    """The fewest connections of three loads of the page (a background job may take one
    meanwhile), and what that load sent."""
    engine = db.engine.sync_engine
    loads = []
    for _ in range(3):
        sent = _Sent()
        event.listen(engine.pool, "checkout", sent.took)
        event.listen(engine, "before_cursor_execute", sent.sent)
        for name in ("begin", "commit", "rollback"):
            event.listen(engine, name, sent.ended)
        try:
            assert client.get(path).status_code == 200
        finally:
            event.remove(engine.pool, "checkout", sent.took)
            event.remove(engine, "before_cursor_execute", sent.sent)
            for name in ("begin", "commit", "rollback"):
                event.remove(engine, name, sent.ended)
        loads.append(sent)
    return min(loads, key=lambda sent: sent.connections)


def test_a_lead_page_reads_in_two_connections_and_the_lead_once(
    browser_client: httpx.Client, admin: httpx.Client, server: Any, clean_db: Settings
) -> None:
    """The page's dozen service calls share one pooled connection and transaction (each
    took its own: 16–18 a page) and read the lead's row once (each read it again: 7 times);
    the header's look-ups (the session, the unread notifications, an admin's open critical
    alerts) are one statement on one connection (three, each on its own, before). Still
    audited and marked seen, as before (the counts shown: test_alerts_page.py and
    test_notifications_page.py)."""
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    agent = make_user(clean_db, "dana.agent@agency.co.il", Role.AGENT)
    lead = _lead(admin, "נועה כהן", "0501112299", agent)
    db = server.server.config.app.state.db
    for email in ("boss@agency.co.il", "dana.agent@agency.co.il"):
        sign_in(browser_client, email)
        sent = _page_sent(browser_client, db, f"/leads/{lead}")
        assert sent.connections == 2, (email, sent.connections, sent.statements)
        assert sent.lead_reads() == 1, (email, sent.statements)
        header = [s for s in sent.statements if "FROM user_sessions" in s]
        assert len(header) == 1 and "FROM notifications" in header[0], header
        assert "FROM alerts" in header[0], header  # counted for an admin only (a CASE)
        others = [s for s in sent.statements if s not in header]
        assert not [s for s in others if "FROM notifications" in s or "FROM alerts" in s]
    entries = admin.get("/api/v1/audit", params={"subject_id": lead}).json()
    actions = [entry["action"] for entry in entries]
    assert (actions.count("view"), actions.count("view_conversation")) == (6, 6)


def test_the_inbox_and_the_week_read_in_one_connection_beside_the_header(
    browser_client: httpx.Client, admin: httpx.Client, server: Any, clean_db: Settings
) -> None:
    """Each service of the inbox (the rows, the agents to filter by) and of the week's
    viewings (the days, the listings, the leads to book) took a connection of its own: 3
    and 4 a page with the header's. They read in one now (Database.one_reading)."""
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    agent = make_user(clean_db, "dana.agent@agency.co.il", Role.AGENT)
    _lead(admin, "נועה כהן", "0501112299", agent)
    db = server.server.config.app.state.db
    for email in ("boss@agency.co.il", "dana.agent@agency.co.il"):
        sign_in(browser_client, email)
        for path in ("/", "/?q=2299", "/meetings?view=week"):
            sent = _page_sent(browser_client, db, path)
            shown = browser_client.get(path).text
            assert "נועה כהן" in shown, (email, path)
            expected = 3 if path == "/?q=2299" else 2  # a phone search writes its tokens first
            assert sent.connections == expected, (email, path, sent.statements)
