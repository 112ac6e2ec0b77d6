"""Throttles hold under a burst: concurrent guesses fired at once over real HTTP.

A burst used to pass the check before any of its failures was recorded, so 30 concurrent
wrong passwords all got 401. Now each attempt is counted before it is checked: of a burst,
exactly the limit are checked (401) and the rest refused (429).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from ovenai import signin
from ovenai.models import Role
from ovenai.settings import Settings
from support.aio import run_async
from support.dashboard import PASSWORD, csrf_of, make_user


async def _login_burst(base_url: str, attempts: list[tuple[str, str]]) -> Counter[int]:
    """Post every (e-mail, password) at once from one browser; the status codes counted."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        token = csrf_of(await client.get("/login"))

        async def post(email: str, password: str) -> int:
            form = {"email": email, "password": password, "csrf": token}
            return (await client.post("/login", data=form)).status_code

        return Counter(await asyncio.gather(*(post(e, p) for e, p in attempts)))


async def _token_burst(base_url: str, count: int) -> Counter[int]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def get(i: int) -> int:
            headers = {"Authorization": f"Bearer ovn_guess{i}"}
            return (await client.get("/api/v1/leads", headers=headers)).status_code

        return Counter(await asyncio.gather(*(get(i) for i in range(count))))


def test_a_burst_of_wrong_passwords_for_one_email_checks_only_the_limit(
    server: Any, clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.ADMIN)
    burst = [("rina@agency.co.il", f"wrong guess {i}!") for i in range(30)]
    codes = run_async(lambda: _login_burst(server.url, burst))
    limit = signin.MAX_FAILURES_PER_EMAIL_AND_ADDRESS
    assert codes == {401: limit, 429: 30 - limit}


def test_a_burst_across_many_emails_checks_only_the_address_limit(
    server: Any, clean_db: Settings
) -> None:
    burst = [(f"guess{i}@agency.co.il", "wrong guess!") for i in range(40)]
    codes = run_async(lambda: _login_burst(server.url, burst))
    limit = signin.MAX_FAILURES_PER_ADDRESS
    assert codes == {401: limit, 429: 40 - limit}


def test_the_right_password_after_a_burst_is_still_refused(server: Any, clean_db: Settings) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.ADMIN)
    burst = [("rina@agency.co.il", "wrong guess!")] * 10
    run_async(lambda: _login_burst(server.url, burst))
    right = [("rina@agency.co.il", PASSWORD)]
    assert run_async(lambda: _login_burst(server.url, right)) == {429: 1}


def test_a_burst_of_bad_bearer_tokens_checks_only_the_limit(
    server: Any, clean_db: Settings
) -> None:
    codes = run_async(lambda: _token_burst(server.url, 60))
    limit = signin.MAX_TOKEN_FAILURES_PER_ADDRESS
    assert codes == {401: limit, 429: 60 - limit}
