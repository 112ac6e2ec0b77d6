"""/api/v1/users and /api/v1/sessions over HTTP: admins run accounts, a user sees their own
sessions, and whatever ends a user's right to sign in ends their tokens and browsers at once.

The personas have API tokens but no passwords; a test that needs a persona's browser has
the admin set that persona's password through the API first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from conftest import Persona
from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import PASSWORD, make_user, sign_in

NEW_PASSWORD = "another long passphrase"
Browsers = Callable[[], httpx.Client]


@pytest.fixture
def browsers(server: Any, clean_db: Settings) -> Iterator[Browsers]:
    """Open as many separate dashboard browsers as a test needs."""
    opened: list[httpx.Client] = []

    def open_one() -> httpx.Client:
        client = httpx.Client(base_url=server.url, headers={"Accept": "text/html"}, timeout=10)
        opened.append(client)
        return client

    yield open_one
    for client in opened:
        client.close()


def _signed_in(browsers: Browsers, email: str, password: str = PASSWORD) -> httpx.Client:
    browser = browsers()
    assert sign_in(browser, email, password).status_code == 303
    return browser


def _inbox_opens(browser: httpx.Client) -> bool:
    answer = browser.get("/")
    assert answer.status_code in (200, 303)
    return answer.status_code == 200


def _give_password(admin: httpx.Client, persona: Persona) -> None:
    answer = admin.post(f"/api/v1/users/{persona.user_id}/password", json={"password": PASSWORD})
    assert answer.status_code == 200, answer.text


def test_an_admin_lists_users_without_any_secret(
    admin: httpx.Client, personas: dict[str, Persona], clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    answer = admin.get("/api/v1/users")
    assert answer.status_code == 200
    listed = {user["email"]: user for user in answer.json()}
    expected = {persona.email for persona in personas.values()} | {"rina@agency.co.il"}
    assert set(listed) == expected
    assert listed["admin@example.co.il"]["role"] == "admin"
    assert listed["rina@agency.co.il"]["has_password"] is True
    assert listed["dana@example.co.il"]["has_password"] is False
    for user in listed.values():
        assert user["active"] is True and user["locked"] is False
        assert not [key for key in user if "hash" in key or "secret" in key]
        assert set(user) >= {"id", "email", "role", "active", "sessions"}
    assert "$argon2" not in answer.text


def test_an_agent_may_not_list_or_run_accounts(
    agent: httpx.Client, personas: dict[str, Persona]
) -> None:
    other = personas["other_agent"].user_id
    assert agent.get("/api/v1/users").status_code == 403
    made = {"email": "mole@agency.co.il", "password": NEW_PASSWORD}
    assert agent.post("/api/v1/users", json=made).status_code == 403
    assert agent.post(f"/api/v1/users/{other}/disable").status_code == 403
    assert agent.post(f"/api/v1/users/{other}/unlock").status_code == 403
    reset = {"password": NEW_PASSWORD}
    assert agent.post(f"/api/v1/users/{other}/password", json=reset).status_code == 403
    assert agent.get(f"/api/v1/users/{other}").status_code == 404  # not revealed
    assert agent.post(f"/api/v1/users/{other}/sign-out").status_code == 404
    assert personas["other_agent"].client.get("/api/v1/leads").status_code == 200


def test_an_admin_creates_a_user_who_signs_in(admin: httpx.Client, browsers: Browsers) -> None:
    made = admin.post(
        "/api/v1/users",
        json={"email": "Noa@Agency.co.il", "password": NEW_PASSWORD, "display_name": "נועה"},
    )
    assert made.status_code == 201
    body = made.json()
    assert body["email"] == "noa@agency.co.il" and body["role"] == "agent"
    assert body["has_password"] is True and body["display_name"] == "נועה"
    assert "password" not in body
    _signed_in(browsers, "noa@agency.co.il", NEW_PASSWORD)


@pytest.mark.parametrize("weak", ["password123", "short one", "noa@agency.co.il"])
def test_a_weak_password_is_refused_naming_the_field(admin: httpx.Client, weak: str) -> None:
    answer = admin.post("/api/v1/users", json={"email": "noa@agency.co.il", "password": weak})
    assert answer.status_code == 422
    assert answer.json()["field"] == "password"
    emails = [user["email"] for user in admin.get("/api/v1/users").json()]
    assert "noa@agency.co.il" not in emails


def test_a_taken_email_is_a_conflict(admin: httpx.Client) -> None:
    taken = {"email": "Dana@Example.co.il", "password": NEW_PASSWORD}
    answer = admin.post("/api/v1/users", json=taken)
    assert answer.status_code == 409
    assert answer.json()["error"] == "Conflict"


def test_disabling_stops_the_users_token_at_once_and_enabling_restores_it(
    admin: httpx.Client, personas: dict[str, Persona], browsers: Browsers
) -> None:
    dana = personas["agent"]
    _give_password(admin, dana)
    browser = _signed_in(browsers, dana.email)
    assert dana.client.get("/api/v1/leads").status_code == 200
    disabled = admin.post(f"/api/v1/users/{dana.user_id}/disable")
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert disabled.json()["sessions"] == 0
    assert dana.client.get("/api/v1/leads").status_code == 401
    assert not _inbox_opens(browser)
    assert sign_in(browsers(), dana.email).status_code == 401
    enabled = admin.post(f"/api/v1/users/{dana.user_id}/enable")
    assert enabled.status_code == 200 and enabled.json()["active"] is True
    assert dana.client.get("/api/v1/leads").status_code == 200
    _signed_in(browsers, dana.email)


def test_an_admin_cannot_disable_themselves(
    admin: httpx.Client, personas: dict[str, Persona]
) -> None:
    own = admin.post(f"/api/v1/users/{personas['admin'].user_id}/disable")
    assert own.status_code == 409
    assert admin.get("/api/v1/leads").status_code == 200


def test_reset_password_answers_how_many_sessions_ended(
    admin: httpx.Client, personas: dict[str, Persona], browsers: Browsers
) -> None:
    dana = personas["agent"]
    _give_password(admin, dana)
    office, phone = _signed_in(browsers, dana.email), _signed_in(browsers, dana.email)
    reset = admin.post(f"/api/v1/users/{dana.user_id}/password", json={"password": NEW_PASSWORD})
    assert reset.status_code == 200 and reset.json() == {"sessions_ended": 2}
    assert not _inbox_opens(office) and not _inbox_opens(phone)
    assert sign_in(browsers(), dana.email).status_code == 401
    _signed_in(browsers, dana.email, NEW_PASSWORD)
    weak = admin.post(f"/api/v1/users/{dana.user_id}/password", json={"password": "qwertyuiop"})
    assert weak.status_code == 422 and weak.json()["field"] == "password"
    _signed_in(browsers, dana.email, NEW_PASSWORD)


def test_unlock_answers_how_many_counts_it_cleared(
    admin: httpx.Client, personas: dict[str, Persona], browsers: Browsers
) -> None:
    dana = personas["agent"]
    _give_password(admin, dana)
    guesser = browsers()
    for _ in range(5):
        assert sign_in(guesser, dana.email, "guess it!").status_code == 401
    assert sign_in(guesser, dana.email).status_code == 429
    unlocked = admin.post(f"/api/v1/users/{dana.user_id}/unlock")
    # The e-mail's count, and the one of the e-mail from this address.
    assert unlocked.status_code == 200 and unlocked.json() == {"counts_cleared": 2}
    assert sign_in(guesser, dana.email).status_code == 303
    again = admin.post(f"/api/v1/users/{dana.user_id}/unlock")
    assert again.json() == {"counts_cleared": 0}


def test_sign_out_answers_how_many_sessions_ended(
    admin: httpx.Client, personas: dict[str, Persona], browsers: Browsers
) -> None:
    dana = personas["agent"]
    _give_password(admin, dana)
    office, phone = _signed_in(browsers, dana.email), _signed_in(browsers, dana.email)
    ended = admin.post(f"/api/v1/users/{dana.user_id}/sign-out")
    assert ended.status_code == 200 and ended.json() == {"sessions_ended": 2}
    assert not _inbox_opens(office) and not _inbox_opens(phone)
    assert admin.post(f"/api/v1/users/{dana.user_id}/sign-out").json() == {"sessions_ended": 0}


def test_an_agent_reads_their_own_sessions_but_not_anothers(
    admin: httpx.Client, personas: dict[str, Persona], browsers: Browsers
) -> None:
    dana, yossi = personas["agent"], personas["other_agent"]
    for persona in (dana, yossi):
        _give_password(admin, persona)
    _signed_in(browsers, dana.email)
    _signed_in(browsers, yossi.email)
    own = dana.client.get(f"/api/v1/users/{dana.user_id}/sessions")
    assert own.status_code == 200
    (session,) = own.json()
    assert session["address"] == "127.0.0.1"
    assert set(session) >= {"id", "created_at", "last_seen_at", "expires_at", "user_agent"}
    assert not [key for key in session if "hash" in key or "secret" in key]
    for someone in (yossi, personas["admin"]):
        assert dana.client.get(f"/api/v1/users/{someone.user_id}/sessions").status_code == 404
    assert len(admin.get(f"/api/v1/users/{yossi.user_id}/sessions").json()) == 1


def test_only_its_user_or_an_admin_ends_a_session(
    admin: httpx.Client, personas: dict[str, Persona], browsers: Browsers
) -> None:
    dana, yossi = personas["agent"], personas["other_agent"]
    for persona in (dana, yossi):
        _give_password(admin, persona)
    danas_browser = _signed_in(browsers, dana.email)
    yossis_browser = _signed_in(browsers, yossi.email)
    (yossis,) = admin.get(f"/api/v1/users/{yossi.user_id}/sessions").json()
    assert dana.client.delete(f"/api/v1/sessions/{yossis['id']}").status_code == 404
    assert _inbox_opens(yossis_browser)
    assert admin.delete(f"/api/v1/sessions/{yossis['id']}").status_code == 204
    assert not _inbox_opens(yossis_browser)
    assert admin.delete(f"/api/v1/sessions/{yossis['id']}").status_code == 404
    (danas,) = dana.client.get(f"/api/v1/users/{dana.user_id}/sessions").json()
    assert dana.client.delete(f"/api/v1/sessions/{danas['id']}").status_code == 204
    assert not _inbox_opens(danas_browser)


def test_a_user_signs_themselves_out_everywhere_but_no_one_else(
    admin: httpx.Client, personas: dict[str, Persona], browsers: Browsers
) -> None:
    dana, yossi = personas["agent"], personas["other_agent"]
    for persona in (dana, yossi):
        _give_password(admin, persona)
    danas_browser = _signed_in(browsers, dana.email)
    yossis_browser = _signed_in(browsers, yossi.email)
    assert dana.client.post(f"/api/v1/users/{yossi.user_id}/sign-out").status_code == 404
    assert _inbox_opens(yossis_browser)
    ended = dana.client.post(f"/api/v1/users/{dana.user_id}/sign-out")
    assert ended.status_code == 200 and ended.json() == {"sessions_ended": 1}
    assert not _inbox_opens(danas_browser)
