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


async def _attempt(
    db: Database, password: str, address: str = "10.0.0.1", device: str | None = None
) -> str:
    try:
        await signin.sign_in(db, email=EMAIL, password=password, address=address, device=device)
    except AuthenticationFailed:
        return "wrong"
    except TooManyRequests:
        return "refused"
    return "in"


async def test_a_concurrent_burst_checks_at_most_the_limit(db: Database) -> None:
    await auth.create_user(db, email=EMAIL, role=Role.AGENT, password=PASSWORD)
    outcomes = Counter(await asyncio.gather(*(_attempt(db, "wrong guess!") for _ in range(12))))
    assert outcomes == {"wrong": signin.MAX_FAILURES_PER_EMAIL_AND_ADDRESS, "refused": 7}


async def test_a_right_password_does_not_count_as_a_failure(db: Database) -> None:
    await auth.create_user(db, email=EMAIL, role=Role.AGENT, password=PASSWORD)
    for _ in range(signin.MAX_FAILURES_PER_EMAIL_AND_ADDRESS - 1):
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
    for _ in range(signin.MAX_FAILURES_PER_EMAIL_AND_ADDRESS):
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
    # The address, and for each checked e-mail its own count and the pair's.
    assert rows == 1 + 2 * signin.MAX_FAILURES_PER_ADDRESS


async def test_guessing_from_one_address_does_not_lock_out_another(db: Database) -> None:
    await auth.create_user(db, email=EMAIL, role=Role.AGENT, password=PASSWORD)
    for _ in range(signin.MAX_FAILURES_PER_EMAIL_AND_ADDRESS + 3):
        await _attempt(db, "wrong guess!", address="203.0.113.9")
    assert await _attempt(db, PASSWORD, address="203.0.113.9") == "refused"
    assert await _attempt(db, PASSWORD, address="10.0.0.1") == "in"


async def test_guessing_from_many_addresses_locks_new_browsers_but_not_a_known_one(
    db: Database,
) -> None:
    await auth.create_user(db, email=EMAIL, role=Role.AGENT, password=PASSWORD)
    for n in range(signin.MAX_FAILURES_PER_EMAIL):
        assert await _attempt(db, "wrong guess!", address=f"198.51.100.{n}") == "wrong"
    assert await _attempt(db, PASSWORD, address="10.0.0.1") == "refused"
    assert await signin.locked(db, emails=[EMAIL, "other@agency.co.il"]) == {EMAIL}
    # The agent's own browser, which signed in before, still gets in.
    assert await _attempt(db, PASSWORD, address="10.0.0.1", device="office-pc") == "in"


async def test_a_known_browser_is_throttled_on_its_own(db: Database) -> None:
    await auth.create_user(db, email=EMAIL, role=Role.AGENT, password=PASSWORD)
    for _ in range(signin.MAX_FAILURES_PER_DEVICE):
        assert await _attempt(db, "wrong guess!", device="office-pc") == "wrong"
    assert await _attempt(db, PASSWORD, device="office-pc") == "refused"
    assert await _attempt(db, PASSWORD, device="home-laptop") == "in"
    assert await _attempt(db, PASSWORD) == "in"  # nothing was counted against the e-mail


async def test_an_unlock_lets_the_right_password_in_at_once(db: Database) -> None:
    await auth.create_user(db, email=EMAIL, role=Role.AGENT, password=PASSWORD)
    for n in range(signin.MAX_FAILURES_PER_EMAIL):
        await _attempt(db, "wrong guess!", address=f"198.51.100.{n}")
    assert await _attempt(db, PASSWORD) == "refused"
    cleared = await signin.unlock(db, email=EMAIL.upper())
    assert cleared == 1 + signin.MAX_FAILURES_PER_EMAIL  # the e-mail's count and every pair's
    assert await _attempt(db, PASSWORD) == "in"


async def test_the_throttle_table_names_no_email(db: Database) -> None:
    await auth.create_user(db, email=EMAIL, role=Role.AGENT, password=PASSWORD)
    await _attempt(db, "wrong guess!")
    async with db.session() as session:
        keys = (await session.scalars(select(ThrottleCount.key))).all()
    assert keys and not any("rina" in key for key in keys)


async def test_pruning_drops_only_counts_whose_window_is_over(db: Database) -> None:
    await auth.create_user(db, email=EMAIL, role=Role.AGENT, password=PASSWORD)
    await _attempt(db, "wrong guess!", address="10.0.0.1")
    with time_machine.travel(utcnow() + signin.WINDOW + timedelta(seconds=1)):
        await _attempt(db, "wrong guess!", address="10.0.0.2")
        assert await signin.prune(db) == 2  # the first attempt's pair and address counts
        async with db.session() as session:
            left = await session.scalar(select(func.count()).select_from(ThrottleCount))
    assert left == 3  # the second attempt's pair and address, and the e-mail (restarted)
