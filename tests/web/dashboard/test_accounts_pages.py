"""The admins' account pages over HTTP: every user listed, creating, password resets, and the
lock that never keeps a known browser out, lifted by the admin's unlock button.

Agents never learn the pages exist (404). Sign-in guessing spread over many addresses is
played through a server that trusts loopback as its proxy, so X-Forwarded-For sets each
attempt's address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ovenai import signin
from ovenai.db import open_database
from ovenai.models import Role, ThrottleCount
from ovenai.settings import Settings
from support.aio import run_async
from support.dashboard import PASSWORD, csrf_of, make_user, sign_in
from web.conftest import ServeWith

NEW_PASSWORD = "another long passphrase"
Browsers = Callable[..., httpx.Client]


@pytest.fixture
def browsers(server: Any, clean_db: Settings) -> Iterator[Browsers]:
    """Open separate browsers (cookie jars); ``browsers(url, address)`` for another server,
    claiming a client address through its trusted proxy."""
    opened: list[httpx.Client] = []

    def open_one(url: str = server.url, address: str | None = None) -> httpx.Client:
        headers = {"Accept": "text/html"}
        if address is not None:
            headers["X-Forwarded-For"] = address
        client = httpx.Client(base_url=url, headers=headers, timeout=10)
        opened.append(client)
        return client

    yield open_one
    for client in opened:
        client.close()


def _signed_in(browser: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Client:
    answer = sign_in(browser, email, password)
    assert answer.status_code == 303, answer.text
    return browser


def _inbox_opens(browser: httpx.Client) -> bool:
    answer = browser.get("/")
    if answer.status_code == 303:
        assert answer.headers["location"] == "/login"
        return False
    assert answer.status_code == 200, answer.text
    return True


def _post(browser: httpx.Client, path: str, **fields: str) -> httpx.Response:
    """Post a form of the admin pages with the session's CSRF token."""
    token = csrf_of(browser.get("/admin/users"))
    return browser.post(path, data={**fields, "csrf": token})


def test_admins_see_every_user(browsers: Browsers, clean_db: Settings) -> None:
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    admin = _signed_in(browsers(), "boss@agency.co.il")
    page = admin.get("/admin/users")
    assert page.status_code == 200
    for email in ("boss@agency.co.il", "rina@agency.co.il", "dana@agency.co.il"):
        assert f'data-user="{email}"' in page.text
    assert 'href="/admin/users"' in admin.get("/").text  # the header links to the page


def test_an_agent_gets_404_for_the_users_pages_and_their_actions(
    browsers: Browsers, clean_db: Settings
) -> None:
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    rina_id = make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    dana_id = make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    rina = _signed_in(browsers(), "rina@agency.co.il")
    dana = _signed_in(browsers(), "dana@agency.co.il")
    assert rina.get("/admin/users").status_code == 404
    assert rina.get(f"/admin/users/{dana_id}").status_code == 404
    assert 'href="/admin/users"' not in rina.get("/").text
    token = csrf_of(rina.get("/account"))
    for action in ("disable", "sign-out", "unlock"):
        path = f"/admin/users/{dana_id}/{action}"
        assert rina.post(path, data={"csrf": token}).status_code == 404
    reset = {"password": NEW_PASSWORD, "csrf": token}
    assert rina.post(f"/admin/users/{dana_id}/password", data=reset).status_code == 404
    made = {"email": "mole@agency.co.il", "password": NEW_PASSWORD, "csrf": token}
    assert rina.post("/admin/users", data=made).status_code == 404
    assert rina.post(f"/admin/users/{rina_id}/disable", data={"csrf": token}).status_code == 404
    assert _inbox_opens(dana) and _inbox_opens(rina)  # nothing was done
    assert sign_in(browsers(), "mole@agency.co.il", NEW_PASSWORD).status_code == 401


def test_an_admin_creates_a_user_who_then_signs_in(browsers: Browsers, clean_db: Settings) -> None:
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    admin = _signed_in(browsers(), "boss@agency.co.il")
    fields = {"email": "Noa@Agency.co.il", "password": NEW_PASSWORD, "role": "agent"}
    created = _post(admin, "/admin/users", display_name="נועה", **fields)
    assert created.status_code == 200
    assert "נוסף משתמש noa@agency.co.il" in created.text
    assert 'data-user="noa@agency.co.il"' in created.text
    noa = _signed_in(browsers(), "noa@agency.co.il", NEW_PASSWORD)
    assert noa.get("/admin/users").status_code == 404  # made an agent, as asked


def test_an_admin_creating_a_user_with_a_weak_password_or_taken_email_is_told(
    browsers: Browsers, clean_db: Settings
) -> None:
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    admin = _signed_in(browsers(), "boss@agency.co.il")
    weak = _post(admin, "/admin/users", email="noa@agency.co.il", password="password123")
    assert weak.status_code == 422 and "זו אחת הסיסמאות הנפוצות ביותר" in weak.text
    assert 'data-user="noa@agency.co.il"' not in weak.text
    taken = _post(admin, "/admin/users", email="rina@agency.co.il", password=NEW_PASSWORD)
    assert taken.status_code == 409 and "כבר קיים משתמש עם כתובת הדוא״ל הזו" in taken.text
    assert sign_in(browsers(), "rina@agency.co.il").status_code == 303  # password unchanged


def test_an_admins_password_reset_ends_the_users_sessions_and_the_new_one_works(
    browsers: Browsers, clean_db: Settings
) -> None:
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    rina_id = make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    admin = _signed_in(browsers(), "boss@agency.co.il")
    office = _signed_in(browsers(), "rina@agency.co.il")
    phone = _signed_in(browsers(), "rina@agency.co.il")
    reset = _post(admin, f"/admin/users/{rina_id}/password", password=NEW_PASSWORD)
    assert reset.status_code == 200 and "הסיסמה נקבעה; 2 חיבורים נותקו" in reset.text
    assert not _inbox_opens(office) and not _inbox_opens(phone)
    assert _inbox_opens(admin)
    assert sign_in(browsers(), "rina@agency.co.il").status_code == 401
    assert sign_in(browsers(), "rina@agency.co.il", NEW_PASSWORD).status_code == 303


def test_a_weak_reset_password_is_refused_and_ends_nothing(
    browsers: Browsers, clean_db: Settings
) -> None:
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    rina_id = make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    admin = _signed_in(browsers(), "boss@agency.co.il")
    office = _signed_in(browsers(), "rina@agency.co.il")
    refused = _post(admin, f"/admin/users/{rina_id}/password", password="rina@agency.co.il")
    assert refused.status_code == 422 and "הסיסמה אינה יכולה להיות כתובת הדוא״ל" in refused.text
    assert _inbox_opens(office)


def test_an_admin_cannot_disable_themselves(browsers: Browsers, clean_db: Settings) -> None:
    boss_id = make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    admin = _signed_in(browsers(), "boss@agency.co.il")
    refused = _post(admin, f"/admin/users/{boss_id}/disable")
    assert refused.status_code == 409 and "אי אפשר להשבית את עצמך" in refused.text
    assert _inbox_opens(admin)


# The known-browser rule, through a proxy that sets each attempt's address.

TRUSTING_LOOPBACK = {"trusted_proxies": "127.0.0.1/32"}
ATTACKERS = [f"203.0.113.{n}" for n in range(1, 11)]


def test_guessing_from_many_addresses_locks_new_browsers_only_until_the_admins_unlock(
    browsers: Browsers, clean_db: Settings, serve_with: ServeWith
) -> None:
    rina_id = make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    per_address = signin.MAX_FAILURES_PER_EMAIL_AND_ADDRESS
    assert len(ATTACKERS) * per_address == signin.MAX_FAILURES_PER_EMAIL
    with serve_with(**TRUSTING_LOOPBACK) as url:
        # Rina's office browser has signed in before, and signed out.
        office = _signed_in(browsers(url, "198.51.100.10"), "rina@agency.co.il")
        assert office.post("/logout", data={"csrf": csrf_of(office.get("/"))}).status_code == 303
        # Someone guesses her password from many addresses, each below its own limit.
        for address in ATTACKERS:
            attacker = browsers(url, address)
            for _ in range(per_address):
                assert sign_in(attacker, "rina@agency.co.il", "guess it!").status_code == 401
        assert sign_in(attacker, "rina@agency.co.il", "guess it!").status_code == 429
        # A new browser is refused even with the right password...
        assert sign_in(browsers(url, "198.51.100.20"), "rina@agency.co.il").status_code == 429
        # ...but the office browser gets in, from wherever it is now.
        office.headers["X-Forwarded-For"] = "198.51.100.30"
        assert sign_in(office, "rina@agency.co.il").status_code == 303
        assert _inbox_opens(office)
        # The admin sees the lock and lifts it with the button.
        admin = _signed_in(browsers(url, "198.51.100.40"), "boss@agency.co.il")
        users = admin.get("/admin/users")
        assert f'action="/admin/users/{rina_id}/unlock"' in users.text
        unlocked = admin.post(f"/admin/users/{rina_id}/unlock", data={"csrf": csrf_of(users)})
        assert unlocked.status_code == 303
        assert f'action="/admin/users/{rina_id}/unlock"' not in admin.get("/admin/users").text
        assert sign_in(browsers(url, "198.51.100.20"), "rina@agency.co.il").status_code == 303


def test_a_password_reset_makes_every_known_browser_new_again(
    browsers: Browsers, clean_db: Settings, serve_with: ServeWith
) -> None:
    """A thief's browser that signed in with the stolen password gets no guesses of its own
    at the new one: after the reset it counts with every other new browser."""
    rina_id = make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    with serve_with(**TRUSTING_LOOPBACK) as url:
        thief = _signed_in(browsers(url, "203.0.113.66"), "rina@agency.co.il")
        admin = _signed_in(browsers(url, "198.51.100.40"), "boss@agency.co.il")
        reset = _post(admin, f"/admin/users/{rina_id}/password", password=NEW_PASSWORD)
        assert reset.status_code == 200
        assert not _inbox_opens(thief)
        assert sign_in(thief, "rina@agency.co.il", "guess it!").status_code == 401
        # Counted as a new browser's guess (the e-mail, its address, the pair), not as a
        # known browser's, which only its own device count would hold.
        assert sorted(key.split(":")[1] for key in _throttle_keys(clean_db)) == [
            "email",
            "ip",
            "pair",
        ]
        fresh = browsers(url, "198.51.100.50")
        assert sign_in(fresh, "rina@agency.co.il", NEW_PASSWORD).status_code == 303


def _throttle_keys(settings: Settings) -> list[str]:
    async def read() -> list[str]:
        db = open_database(settings)
        try:
            await db.start()
            async with db.session() as session:
                return list(await session.scalars(select(ThrottleCount.key)))
        finally:
            await db.dispose()

    return run_async(read)
