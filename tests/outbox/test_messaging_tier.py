"""The messaging-limit tier: unique users per portfolio in a rolling 24 hours, per number kept."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from tests.outbox.conftest import WABA_ID, config, make_lead, send

from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.models import ReachedUser
from ovenai.outbox import messaging_tier
from ovenai.outbox.bucket_store import DatabaseBuckets
from ovenai.outbox.dispatcher import Dispatcher
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio
DAY = timedelta(hours=24)


async def _allow(
    db: Database, leads: Sequence[str], *, limit: int, number: str = "n1", portfolio: str = "p"
) -> tuple[set[str], float]:
    async with db.session() as session:
        answer = await messaging_tier.reach_allowance(
            session, portfolio=portfolio, phone_number_id=number, lead_ids=leads, limit=limit
        )
        await session.commit()
    return answer


async def _reached(db: Database) -> set[tuple[str, str, str]]:
    async with db.session() as session:
        columns = (ReachedUser.portfolio, ReachedUser.phone_number_id, ReachedUser.lead_id)
        return {tuple(row) for row in await session.execute(select(*columns))}  # type: ignore[misc]


async def test_the_messaging_tier_holds_new_users_once_the_tier_is_used_up(
    seeded: Database, client: CloudApiClient, control: SimControl
) -> None:
    for _ in range(5):
        lead = await make_lead(seeded)
        await send(seeded, lead.id, template="welcome_new_lead", params=["נועה", "חיפה"])
    sender = Dispatcher(seeded, client, DatabaseBuckets(seeded), config(messaging_limit=3))

    await sender.drain()

    assert (await control.stats())["counts"].get("accepted") == 3
    async with seeded.session() as session:
        assert await messaging_tier.reached_count(session, portfolio=WABA_ID) == 3


async def test_the_numbers_of_a_portfolio_share_its_places_and_a_user_takes_one(
    db: Database,
) -> None:
    assert await _allow(db, ["a", "b", "a"], limit=3, number="n1") == ({"a", "b"}, 0.0)

    allowed, wait = await _allow(db, ["b", "c", "d"], limit=3, number="n2")

    assert allowed == {"b", "c"}  # b was reached already: free; c the last place; d waits
    assert DAY.total_seconds() - 5 < wait <= DAY.total_seconds()
    assert await _reached(db) == {("p", "n1", "a"), ("p", "n1", "b"), ("p", "n2", "c")}
    assert await _allow(db, ["d"], limit=3, portfolio="other") == ({"d"}, 0.0)
    async with db.session() as session:
        assert await messaging_tier.reached_count(session, portfolio="p") == 3


async def test_a_place_frees_24_hours_after_its_user_was_reached(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        for lead, ago in (
            ("old", DAY + timedelta(minutes=1)),
            ("recent", DAY - timedelta(hours=1)),
        ):
            session.add(
                ReachedUser(portfolio="p", phone_number_id="n1", lead_id=lead, reached_at=now - ago)
            )
        await session.commit()

    assert await _allow(db, ["old"], limit=2) == ({"old"}, 0.0)  # outside the window: anew
    allowed, wait = await _allow(db, ["new"], limit=2)

    assert allowed == set()
    assert 3600 - 5 < wait <= 3600  # "recent" leaves the window in an hour


async def test_concurrent_workers_never_hand_out_more_places_than_the_tier(
    db: Database,
) -> None:
    answers = await asyncio.gather(
        *(_allow(db, [f"w{worker}-{n}" for n in range(3)], limit=5) for worker in range(4))
    )

    assert sum(len(allowed) for allowed, _ in answers) == 5
    async with db.session() as session:
        assert await messaging_tier.reached_count(session, portfolio="p") == 5
