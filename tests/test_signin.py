"""Sign-in throttling holds when many attempts race each other in the database."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import delete

from ovenai import signin
from ovenai.db import Database
from ovenai.errors import AuthenticationFailed, TooManyRequests
from ovenai.models import ThrottleCount

pytestmark = pytest.mark.anyio


async def _attempt(db: Database, password: str) -> str:
    try:
        await signin.sign_in(db, email="rina@agency.co.il", password=password, address="10.2.0.1")
    except AuthenticationFailed:
        return "wrong"
    except TooManyRequests:
        return "refused"
    return "signed in"


async def test_racing_bursts_are_counted_and_refused_without_a_database_error(
    db: Database,
) -> None:
    # Refused attempts take their counts back while others are still counting: both must
    # lock the rows in one order, or PostgreSQL aborts some as deadlocked (which reached
    # the browser as 503s). Any error other than the two refusals fails the gather.
    # The deadlock took a dozen bursts of churn in the table to show; SQLite runs one
    # transaction at a time, so a few bursts show the counting there.
    for _burst in range(20 if db.dialect == "postgresql" else 3):
        async with db.session() as session:
            await session.execute(delete(ThrottleCount))
            await session.commit()
        results = await asyncio.gather(*(_attempt(db, f"wrong guess {i}") for i in range(30)))
        limit = signin.MAX_FAILURES_PER_EMAIL_AND_ADDRESS
        assert Counter(results) == {"wrong": limit, "refused": 30 - limit}
