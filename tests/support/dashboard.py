"""Dashboard helpers: users with passwords, and signing in over real HTTP like a browser."""

from __future__ import annotations

import re
from typing import Any

import httpx

from ovenai import auth
from ovenai.db import open_database
from ovenai.models import Role
from ovenai.settings import Settings
from support.aio import run_async

PASSWORD = "a long enough password"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def make_user(settings: Settings, email: str, role: Role) -> str:
    """Create a user with PASSWORD; returns the user id."""

    async def make() -> str:
        db = open_database(settings)
        try:
            await db.start()
            user = await auth.create_user(db, email=email, role=role, password=PASSWORD)
            return user.id
        finally:
            await db.dispose()

    return run_async(make)


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token a page's forms carry."""
    match = CSRF.search(page.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    """Fetch the form, then post it with its token, as a browser would."""
    token = csrf_of(client.get("/login"))
    return client.post("/login", data={"email": email, "password": password, "csrf": token})


def sign_in_page(page: Any, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Sign in through the login form of a real browser page; it ends on the inbox."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
