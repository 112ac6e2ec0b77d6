"""Dashboard sessions: signed HttpOnly SameSite cookies, CSRF on every form, throttled login,
and server-side records that logout, a password change and an admin end at once."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ovenai import password_policy
from ovenai.errors import InvalidInput
from ovenai.models import Language, Role
from ovenai.settings import Settings
from ovenai.web.i18n import TRANSLATORS
from support.dashboard import PASSWORD, csrf_of, make_user, sign_in

HEBREW = TRANSLATORS[Language.HE]


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


# Server-side sessions: ending one takes effect at once, for every copy of the cookie.

NEW_PASSWORD = "another long passphrase"
SESSION_ROW = re.compile(r'<tr data-session="([^"]+)">(.*?)</tr>', re.DOTALL)


@pytest.fixture
def browsers(server: Any, clean_db: Settings) -> Iterator[Callable[[], httpx.Client]]:
    """Open as many separate browsers (cookie jars) as a test needs."""
    opened: list[httpx.Client] = []

    def open_one() -> httpx.Client:
        client = httpx.Client(base_url=server.url, headers={"Accept": "text/html"}, timeout=10)
        opened.append(client)
        return client

    yield open_one
    for client in opened:
        client.close()


def _signed_in(browsers: Callable[[], httpx.Client], email: str, password: str = PASSWORD) -> Any:
    browser = browsers()
    assert sign_in(browser, email, password).status_code == 303
    assert _inbox_opens(browser)
    return browser


def _inbox_opens(browser: httpx.Client) -> bool:
    answer = browser.get("/")
    if answer.status_code == 303:
        assert answer.headers["location"] == "/login"
        return False
    assert answer.status_code == 200, answer.text
    return True


def _sessions_listed(account_page: httpx.Response) -> dict[str, str]:
    """Session id → its row's text, from /account."""
    return {found.group(1): found.group(2) for found in SESSION_ROW.finditer(account_page.text)}


def test_a_cookie_copied_before_logout_opens_nothing_after_it(
    browser_client: httpx.Client, server: Any, clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    assert sign_in(browser_client, "rina@agency.co.il").status_code == 303
    inbox = browser_client.get("/")
    copied = browser_client.cookies["ovenai_session"]
    with httpx.Client(
        base_url=server.url, headers={"Accept": "text/html"}, cookies={"ovenai_session": copied}
    ) as thief:
        assert _inbox_opens(thief)  # the copy works while the session lives
        assert browser_client.post("/logout", data={"csrf": csrf_of(inbox)}).status_code == 303
        thief.cookies.set("ovenai_session", copied)  # the very same cookie, replayed
        assert not _inbox_opens(thief)
    assert not _inbox_opens(browser_client)


def test_changing_the_password_ends_the_other_browser_and_keeps_this_one(
    browsers: Callable[[], httpx.Client], clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    office = _signed_in(browsers, "rina@agency.co.il")
    phone = _signed_in(browsers, "rina@agency.co.il")
    form = office.get("/account")
    changed = office.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "csrf": csrf_of(form)},
    )
    assert changed.status_code == 200 and "הסיסמה הוחלפה; חיבור אחר אחד נותק" in changed.text
    assert not _inbox_opens(phone)
    assert _inbox_opens(office)
    assert sign_in(browsers(), "rina@agency.co.il").status_code == 401  # the old password
    assert sign_in(browsers(), "rina@agency.co.il", NEW_PASSWORD).status_code == 303


def test_a_wrong_current_password_changes_nothing(
    browsers: Callable[[], httpx.Client], clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    office = _signed_in(browsers, "rina@agency.co.il")
    phone = _signed_in(browsers, "rina@agency.co.il")
    form = office.get("/account")
    refused = office.post(
        "/account/password",
        data={
            "current_password": "not my password",
            "new_password": NEW_PASSWORD,
            "csrf": csrf_of(form),
        },
    )
    assert refused.status_code == 401
    assert "הסיסמה הנוכחית שגויה" in refused.text
    assert _inbox_opens(phone) and _inbox_opens(office)
    assert sign_in(browsers(), "rina@agency.co.il", NEW_PASSWORD).status_code == 401
    assert sign_in(browsers(), "rina@agency.co.il").status_code == 303


@pytest.mark.parametrize("weak", ["password123", "Rina@Agency.co.il"])
def test_a_weak_new_password_is_refused_with_the_policys_reason(
    browsers: Callable[[], httpx.Client], clean_db: Settings, weak: str
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    with pytest.raises(InvalidInput) as policy:
        password_policy.check(weak, email="rina@agency.co.il")
    office = _signed_in(browsers, "rina@agency.co.il")
    phone = _signed_in(browsers, "rina@agency.co.il")
    refused = office.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": weak,
            "csrf": csrf_of(office.get("/account")),
        },
    )
    assert refused.status_code == 422
    assert html.escape(HEBREW.error_text(policy.value)) in refused.text  # the policy's reason
    assert _inbox_opens(phone)  # nothing changed, nothing ended
    assert sign_in(browsers(), "rina@agency.co.il", weak).status_code == 401
    assert sign_in(browsers(), "rina@agency.co.il").status_code == 303


def test_the_account_page_lists_the_sessions_and_ends_another_one(
    browsers: Callable[[], httpx.Client], clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    office = _signed_in(browsers, "rina@agency.co.il")
    phone = _signed_in(browsers, "rina@agency.co.il")
    page = office.get("/account")
    assert page.status_code == 200
    rows = _sessions_listed(page)
    assert len(rows) == 2
    this = [sid for sid, row in rows.items() if "החיבור הזה" in row]
    assert len(this) == 1
    (other,) = set(rows) - set(this)
    assert f'action="/account/sessions/{other}/end"' in rows[other]
    assert f"/account/sessions/{this[0]}/end" not in page.text  # no button to end oneself
    ended = office.post(f"/account/sessions/{other}/end", data={"csrf": csrf_of(page)})
    assert ended.status_code == 303 and ended.headers["location"] == "/account"
    assert not _inbox_opens(phone)
    assert list(_sessions_listed(office.get("/account"))) == this


def test_another_users_session_cannot_be_ended_from_ones_account(
    browsers: Callable[[], httpx.Client], clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    make_user(clean_db, "dana@agency.co.il", Role.AGENT)
    rina = _signed_in(browsers, "rina@agency.co.il")
    dana = _signed_in(browsers, "dana@agency.co.il")
    (danas,) = _sessions_listed(dana.get("/account"))
    refused = rina.post(
        f"/account/sessions/{danas}/end", data={"csrf": csrf_of(rina.get("/account"))}
    )
    assert refused.status_code == 404
    assert _inbox_opens(dana)


def _admin_post(admin: httpx.Client, path: str) -> httpx.Response:
    return admin.post(path, data={"csrf": csrf_of(admin.get("/admin/users"))})


def test_an_admin_disabling_a_user_ends_their_open_browser_at_once(
    browsers: Callable[[], httpx.Client], clean_db: Settings
) -> None:
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    rina_id = make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    admin = _signed_in(browsers, "boss@agency.co.il")
    rina = _signed_in(browsers, "rina@agency.co.il")
    answer = _admin_post(admin, f"/admin/users/{rina_id}/disable")
    assert answer.status_code == 303 and answer.headers["location"] == f"/admin/users/{rina_id}"
    assert not _inbox_opens(rina)
    assert sign_in(browsers(), "rina@agency.co.il").status_code == 401
    assert "מושבת" in admin.get(f"/admin/users/{rina_id}").text


def test_an_admins_sign_out_everywhere_ends_every_browser_of_the_user(
    browsers: Callable[[], httpx.Client], clean_db: Settings
) -> None:
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    rina_id = make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    admin = _signed_in(browsers, "boss@agency.co.il")
    office = _signed_in(browsers, "rina@agency.co.il")
    phone = _signed_in(browsers, "rina@agency.co.il")
    assert _admin_post(admin, f"/admin/users/{rina_id}/sign-out").status_code == 303
    assert not _inbox_opens(office) and not _inbox_opens(phone)
    assert _inbox_opens(admin)
    assert "אין חיבורים פעילים" in admin.get(f"/admin/users/{rina_id}").text
    assert sign_in(browsers(), "rina@agency.co.il").status_code == 303  # may sign in again


def test_signing_out_the_others_keeps_only_this_browser(
    browsers: Callable[[], httpx.Client], clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    office = _signed_in(browsers, "rina@agency.co.il")
    phone = _signed_in(browsers, "rina@agency.co.il")
    laptop = _signed_in(browsers, "rina@agency.co.il")
    page = office.get("/account")
    answer = office.post("/account/sign-out-others", data={"csrf": csrf_of(page)})
    assert answer.status_code == 303
    assert not _inbox_opens(phone) and not _inbox_opens(laptop)
    assert _inbox_opens(office)
    assert len(_sessions_listed(office.get("/account"))) == 1


def test_enabling_a_user_again_does_not_revive_their_old_cookies(
    browsers: Callable[[], httpx.Client], server: Any, clean_db: Settings
) -> None:
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    rina_id = make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    admin = _signed_in(browsers, "boss@agency.co.il")
    rina = _signed_in(browsers, "rina@agency.co.il")
    copied = rina.cookies["ovenai_session"]
    assert _admin_post(admin, f"/admin/users/{rina_id}/disable").status_code == 303
    assert _admin_post(admin, f"/admin/users/{rina_id}/enable").status_code == 303
    replay = browsers()
    replay.cookies.set("ovenai_session", copied)
    assert not _inbox_opens(replay)
    assert _signed_in(browsers, "rina@agency.co.il")  # she signs in anew


def test_a_hostile_user_agent_is_shown_as_text_in_the_session_lists(
    browsers: Callable[[], httpx.Client], clean_db: Settings
) -> None:
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    rina_id = make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    hostile = browsers()
    hostile.headers["User-Agent"] = '<script>alert("x")</script>'
    assert sign_in(hostile, "rina@agency.co.il").status_code == 303
    admin = _signed_in(browsers, "boss@agency.co.il")
    for page in (hostile.get("/account"), admin.get(f"/admin/users/{rina_id}")):
        assert page.status_code == 200
        assert "<script>alert" not in page.text
        assert "&lt;script&gt;alert(" in page.text
