"""Agents' first responses as the report gives them (ovenai.kpis: kept hours of log-spaced
buckets by agent, ovenai.turn_hours, the turns read at the period's edges and where the
kept ones are outdated) are the ones the same turns give summarised in Python,
``Timing.of``'s definitions: the counts, the slowest turns, each agent's and the whole's
count, mean and longest wait exact, the median and 95th percentile within the buckets'
bound (1 %). Over random histories (waits of microseconds to days, even and odd counts,
an agent since deleted, turns counted live beside the kept ones, a turn answered since
the job's run) and periods with many, few and no unanswered turns. On both databases."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from tests.outbox.conftest import make_lead
from tests.test_kpis_turns import START, _no_grace, assert_within_the_bound

from ovenai import auth, kpis, response_turns
from ovenai.db import Database
from ovenai.models import Direction, Message, ResponseTurn, Role, User
from support.histories import inbound_text

pytestmark = pytest.mark.anyio


async def _histories(db: Database, *, leads: int, seed: int, agents: list[str]) -> list[str]:
    """Leads writing and being answered (by agents and by automation) around START: waits
    from a few microseconds to several days, some turns never answered."""
    rng = random.Random(seed)
    ids = [(await make_lead(db)).id for _ in range(leads)]
    rows: list[Message] = []
    for lead_id in ids:
        at = START + timedelta(seconds=rng.randrange(-2 * 86400, 6 * 86400))
        for _ in range(rng.randrange(1, 9)):
            wait = rng.choice((1e-5, 0.3, 40.0, 3_000.0, 90_000.0, 400_000.0))
            at += timedelta(seconds=rng.uniform(0, wait), microseconds=rng.randrange(1, 10**6))
            if rng.random() < 0.5:
                rows.append(inbound_text(lead_id, at))
                continue
            rows.append(
                Message(
                    lead_id=lead_id,
                    direction=Direction.OUTBOUND,
                    type="text",
                    status="read",
                    sent_at=at,
                    sent_by_id=rng.choice(agents) if rng.random() < 0.7 else None,
                    created_at=at,
                )
            )
    async with db.session() as session:
        session.add_all(rows)
        await session.commit()
    return ids


def _periods(seed: int) -> list[tuple[datetime, datetime]]:
    rng = random.Random(seed)
    periods = [(START - timedelta(days=3), START + timedelta(days=9))]
    for _ in range(25):
        start = START + timedelta(seconds=rng.randrange(-3 * 86400, 8 * 86400))
        periods.append((start, start + timedelta(seconds=rng.randrange(60, 6 * 86400))))
    return periods


async def _both(
    db: Database, start: datetime, end: datetime
) -> tuple[kpis.FirstResponses, kpis.FirstResponses, int]:
    """The period's first responses as the report summarises them, the same turns
    summarised in Python, and how many turns were counted live."""
    async with db.reading() as session:
        found = await response_turns.in_period(session, start, end)
        summarised = await kpis._first_responses(session, start, end, found)
        turns = await response_turns.period_turns(session, found, start, end)
        defined = await kpis._summarised(session, turns)
    return summarised, defined, len(found.new)


def _slowest(responses: kpis.FirstResponses) -> list[Any]:
    return sorted(
        (s.waited_s is not None, -(s.waited_s or 0), s.turn_at, s.lead_id)
        for s in responses.slowest
    )


def assert_like_the_definition(found: kpis.FirstResponses, exact: kpis.FirstResponses) -> None:
    """Counts and slowest exact; each timing within the buckets' bound."""
    assert (found.turns, found.unanswered) == (exact.turns, exact.unanswered)
    assert _slowest(found) == _slowest(exact)
    assert_within_the_bound(found.answered, exact.answered)
    assert [a.email for a in found.by_agent] == [a.email for a in exact.by_agent]
    for mine, theirs in zip(found.by_agent, exact.by_agent, strict=True):
        assert_within_the_bound(mine.timing, theirs.timing)


async def test_first_responses_summarised_are_the_turns_own(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_grace(monkeypatch)
    agents = [
        (await auth.create_user(db, email=f"agent{n}@agency.co.il", role=Role.AGENT)).id
        for n in range(4)
    ]
    leads = await _histories(db, leads=60, seed=3, agents=agents)
    await response_turns.refresh(db)
    async with db.session() as session:  # an agent who left: answers by nobody known
        await session.execute(delete(User).where(User.id == agents[-1]))
        await session.commit()
    # Written since the job's run: these leads are counted live beside the kept turns.
    await _histories(db, leads=8, seed=4, agents=agents[:-1])
    async with db.session() as session:
        lead = leads[0]
        session.add(
            Message(
                lead_id=lead,
                direction=Direction.INBOUND,
                type="text",
                status="received",
                created_at=START + timedelta(days=1, microseconds=7),
            )
        )
        await session.commit()

    seen_live = seen_few_unanswered = seen_many = 0
    for start, end in _periods(5):
        summarised, defined, live = await _both(db, start, end)
        assert_like_the_definition(summarised, defined)
        seen_live += live > 0
        seen_few_unanswered += 0 < defined.turns and defined.unanswered < kpis.SLOWEST
        seen_many += defined.answered.count > 20
    # The periods covered what the statement treats apart.
    assert seen_live and seen_few_unanswered and seen_many
    async with db.session() as session:
        nobody = select(ResponseTurn).where(
            ResponseTurn.reply_at.is_not(None), ResponseTurn.replied_by_id.is_(None)
        )
        assert (await session.scalars(nobody)).first() is not None
