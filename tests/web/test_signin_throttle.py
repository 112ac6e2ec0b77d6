"""Sign-in throttling as a service, on both databases: bursts, forgiveness, the window."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from ovenai import auth, signin
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import AuthenticationFailed, TooManyRequests
from ovenai.models import Role, ThrottleCount

pytestmark = pytest.mark.anyio
EMAIL = "rina@agency.co.il"
PASSWORD = "a long enough password"


async def _attempt(db: Database, password: str, address: str = "10.0.0.1") -> str:
    try:
        await signin.sign_in(db, email=EMAIL, password=password, address=address)
    except AuthenticationFailed:
        return "wrong"
    except TooManyRequests:
        return "refused"
    return "in"


async def test_a_concurrent_burst_checks_at_most_the_limit(db: Database) -> None:
    await auth.create_user(db, email=EMAIL, role=Role.AGENT, password=PASSWORD)
    outcomes = Counter(await asyncio.gather(*(_attempt(db, "wrong guess!") for _ in range(12))))
    assert outcomes == {"wrong": signin.MAX_FAILURES_PER_EMAIL, "refused": 7}


async def test_a_right_password_does_not_count_as_a_failure(db: Database) -> None:
    await auth.create_user(db, email=EMAIL, role=Role.AGENT, password=PASSWORD)
    for _ in range(signin.MAX_FAILURES_PER_EMAIL - 1):
        assert await _attempt(db, "wrong guess!") == "wrong"
    assert await _attempt(db, PASSWORD) == "in"
    assert await _attempt(db, "wrong guess!") == "wrong"
    assert await _attempt(db, PASSWORD) == "refused"


async def test_refused_attempts_do_not_count_against_the_address(db: Database) -> None:
    await auth.create_user(db, email=EMAIL, role=Role.AGENT, password=PASSWORD)
    for _ in range(signin.MAX_FAILURES_PER_ADDRESS + 5):
        await _attempt(db, "wrong guess!")
    other = "dana@agency.co.il"
    await auth.create_user(db, email=other, role=Role.AGENT, password=PASSWORD)
    actor = await signin.sign_in(db, email=other, password=PASSWORD, address="10.0.0.1")
    assert actor.email == other


async def test_the_refusal_ends_when_the_window_is_over(db: Database) -> None:
    await auth.create_user(db, email=EMAIL, role=Role.AGENT, password=PASSWORD)
    for _ in range(signin.MAX_FAILURES_PER_EMAIL):
        await _attempt(db, "wrong guess!")
    assert await _attempt(db, PASSWORD) == "refused"
    with time_machine.travel(utcnow() + signin.WINDOW - timedelta(seconds=5)):
        assert await _attempt(db, PASSWORD) == "refused"
    with time_machine.travel(utcnow() + signin.WINDOW + timedelta(seconds=1)):
        assert await _attempt(db, PASSWORD) == "in"


async def test_refused_tries_of_new_emails_leave_no_rows_behind(db: Database) -> None:
    for n in range(signin.MAX_FAILURES_PER_ADDRESS + 10):
        with pytest.raises((AuthenticationFailed, TooManyRequests)):
            await signin.sign_in(db, email=f"n{n}@x.y", password="guess!", address="10.0.0.7")
    async with db.session() as session:
        rows = await session.scalar(select(func.count()).select_from(ThrottleCount))
    assert rows == 1 + signin.MAX_FAILURES_PER_ADDRESS  # the address and the checked e-mails
