"""The leads a no-reply rule finds in a band of send times (``automation.timed._silent``):
exactly those whose first message from us since they last wrote was accepted inside the
band, against a model of that definition over random histories, on both databases; and a
rule's runs look at each send time once, so a run after a missed hour catches up."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from tests.outbox.conftest import make_lead

from ovenai.automation.timed import NO_REPLY_MARK, _look_up_to, _looked_up_to, _silent
from ovenai.db import Database
from ovenai.models import Direction, Lead, Message

pytestmark = pytest.mark.anyio
START = datetime(2026, 11, 1, tzinfo=UTC)


def _model(
    histories: dict[str, tuple[datetime | None, list[datetime | None], bool]],
    after: datetime,
    newest: datetime,
) -> set[str]:
    found = set()
    for lead_id, (wrote_at, sends, erased) in histories.items():
        since = [at for at in sends if at is not None and (wrote_at is None or at > wrote_at)]
        if not erased and since and after < min(since) <= newest:
            found.add(lead_id)
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_band_finds_exactly_the_leads_whose_first_unanswered_send_lies_in_it(
    db: Database, seed: int
) -> None:
    chance = random.Random(seed)
    histories: dict[str, tuple[datetime | None, list[datetime | None], bool]] = {}
    for _ in range(30):
        wrote_at = (
            None if chance.random() < 0.3 else START + timedelta(hours=chance.randint(0, 200))
        )
        lead = await make_lead(db, wrote_at=wrote_at)
        sends: list[datetime | None] = [
            None if chance.random() < 0.15 else START + timedelta(hours=chance.randint(0, 240))
            for _ in range(chance.randint(0, 4))
        ]
        erased = chance.random() < 0.1
        async with db.session() as session:
            for at in sends:  # None: never accepted (failed at the send)
                made = (at or START + timedelta(hours=100)) - timedelta(seconds=2)
                session.add(
                    Message(
                        lead_id=lead.id,
                        direction=Direction.OUTBOUND,
                        type="text",
                        status="sent" if at else "failed",
                        sent_at=at,
                        created_at=made,
                    )
                )
            if wrote_at is not None:  # their own message, which never counts as a send
                session.add(
                    Message(
                        lead_id=lead.id,
                        direction=Direction.INBOUND,
                        type="text",
                        status="received",
                        created_at=wrote_at,
                        sent_at=wrote_at,
                    )
                )
            if erased:
                await session.execute(
                    update(Lead).where(Lead.id == lead.id).values(erased_at=START)
                )
            await session.commit()
        histories[lead.id] = (wrote_at, sends, erased)

    bounds = sorted(START + timedelta(hours=chance.randint(0, 260)) for _ in range(6))
    bands = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    bands.append((START - timedelta(days=1), START + timedelta(days=20)))  # everything
    for after, newest in bands:
        found = {lead_id for lead_id, _ in await _silent(db, after, newest)}
        assert found == _model(histories, after, newest), (after, newest)
    # Consecutive bands find each silent lead once: in the band its first send lies in.
    pieces = [await _silent(db, a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    ids = [lead_id for piece in pieces for lead_id, _ in piece]
    assert len(ids) == len(set(ids))
    assert set(ids) == _model(histories, bounds[0], bounds[-1])


async def test_a_rule_looks_from_the_lookback_until_its_first_run_is_marked(
    db: Database,
) -> None:
    mark = f"{NO_REPLY_MARK}rule-1:3"
    floor = START
    assert await _looked_up_to(db, mark, floor) == floor
    await _look_up_to(db, mark, START + timedelta(hours=5))
    assert await _looked_up_to(db, mark, floor) == START + timedelta(hours=5)
    await _look_up_to(db, mark, START + timedelta(hours=6))
    assert await _looked_up_to(db, mark, floor) == START + timedelta(hours=6)
    # A mark older than the lookback (the worker was down for weeks) starts at the floor.
    later_floor = START + timedelta(days=30)
    assert await _looked_up_to(db, mark, later_floor) == later_floor
    assert await _looked_up_to(db, f"{NO_REPLY_MARK}rule-1:5", floor) == floor
