"""Dashboard sessions: signed HttpOnly SameSite cookies, CSRF on every form, throttled login."""

from __future__ import annotations

import httpx

from ovenai.models import Role
from ovenai.settings import Settings
from support.dashboard import PASSWORD, csrf_of, make_user, sign_in


def test_a_page_without_a_session_redirects_to_login(browser_client: httpx.Client) -> None:
    answer = browser_client.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


def test_the_session_cookie_is_httponly_and_samesite(browser_client: httpx.Client) -> None:
    cookie = browser_client.get("/login").headers["set-cookie"]
    assert cookie.startswith("ovenai_session=")
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()


def test_a_login_without_the_csrf_token_is_refused(
    browser_client: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.ADMIN)
    browser_client.get("/login")
    answer = browser_client.post(
        "/login", data={"email": "rina@agency.co.il", "password": PASSWORD}
    )
    assert answer.status_code == 403
    forged = browser_client.post(
        "/login", data={"email": "rina@agency.co.il", "password": PASSWORD, "csrf": "forged"}
    )
    assert forged.status_code == 403


def test_signing_in_shows_the_inbox_and_logout_needs_the_token(
    browser_client: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.ADMIN)
    answer = sign_in(browser_client, "Rina@Agency.co.il")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    inbox = browser_client.get("/")
    assert inbox.status_code == 200 and "לידים" in inbox.text
    assert browser_client.post("/logout", data={}).status_code == 403
    out = browser_client.post("/logout", data={"csrf": csrf_of(inbox)})
    assert out.status_code == 303
    assert browser_client.get("/").status_code == 303


def test_a_wrong_password_is_refused_and_guessing_is_throttled(
    browser_client: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.ADMIN)
    for _ in range(5):
        assert sign_in(browser_client, "rina@agency.co.il", "wrong guess!").status_code == 401
    assert sign_in(browser_client, "rina@agency.co.il").status_code == 429


def test_bad_bearer_tokens_are_throttled_per_address(anonymous: httpx.Client) -> None:
    codes = [
        anonymous.get(
            "/api/v1/leads", headers={"Authorization": f"Bearer ovn_guess{i}"}
        ).status_code
        for i in range(32)
    ]
    assert codes[:30] == [401] * 30
    assert codes[30:] == [429, 429]
