"""Throttling answers in a row, end to end: each waits longer, none uses up an attempt.

The dispatcher sends to the simulator, which answers what the test injects. Time passing is
played by the test: after each answer the message's due time is moved to now and the
buckets' clock forward past the wait, so nothing here waits or measures wall-clock time. The
waits are read from what was stored: ``next_attempt_at - status_at`` (both the same
outcome's moment, so the difference is exactly the wait the policy chose).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import update
from tests.outbox.conftest import config, make_lead, recently, send

from ovenai.cloudapi import CloudApiClient
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import Message
from ovenai.outbox.bucket_store import DatabaseBuckets
from ovenai.outbox.dispatcher import Dispatcher
from ovenai.outbox.retry import RetryPolicy
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio
# The worker's own waits (cap 300 s), but only two attempts: a throttled try that counted
# as one would fail the message at the next fault.
POLICY = RetryPolicy(max_attempts=2)


class Rounds:
    """One dispatcher run per answer, with the time between them played by the test."""

    def __init__(self, db: Database, client: CloudApiClient, message_id: str) -> None:
        self.db, self.message_id = db, message_id
        self.now = time.time()
        buckets = DatabaseBuckets(db, clock=lambda: self.now)
        # Unpaced: only the pair bucket (which 131056 slows down) runs on the played clock.
        self.worker = Dispatcher(
            db, client, buckets, config(policy=POLICY, messages_per_second=None)
        )

    async def next(self) -> Message:
        """Send what is due, then the message as stored."""
        await self.worker.drain()
        return await self.stored()

    async def stored(self) -> Message:
        async with self.db.session() as session:
            message = await session.get(Message, self.message_id)
            assert message is not None
            return message

    async def wait_out(self, message: Message) -> float:
        """The wait the message was given; it is over when this returns (played)."""
        assert message.next_attempt_at is not None
        wait = (message.next_attempt_at - message.status_at).total_seconds()
        self.now += wait + 1.0
        async with self.db.session() as session:
            due = update(Message).where(Message.id == self.message_id)
            await session.execute(due.values(next_attempt_at=utcnow()))
            await session.commit()
        return wait


async def _queued(db: Database, control: SimControl, *errors: dict[str, Any]) -> str:
    lead = await make_lead(db, wrote_at=recently())
    await control.inbound(**{"from": lead.phone, "type": "text", "text": "hi", "wait": False})
    await control.faults(errors=list(errors))
    return (await send(db, lead.id, text="הדירה עדיין פנויה")).id


def _state(message: Message) -> tuple[str, int, int, int | None]:
    return (message.status, message.attempts, message.throttled_attempts, message.error_code)


async def test_three_pair_limit_answers_wait_one_four_and_sixteen_seconds_and_the_send_goes(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    message_id = await _queued(db, control, {"code": 131056, "count": 3, "status": 400})
    rounds = Rounds(db, client, message_id)

    waits, states = [], []
    for _ in range(3):
        message = await rounds.next()
        states.append(_state(message))
        waits.append(await rounds.wait_out(message))
    sent = await rounds.next()

    assert waits == [1.0, 4.0, 16.0]  # Meta's 4^X, X the refusals before
    # Queued each time, its attempt given back, the refusals counted apart.
    assert states == [("queued", 0, n, 131056) for n in (1, 2, 3)]
    assert _state(sent) == ("sent", 1, 0, None)  # one attempt of two: never near max_attempts
    assert len((await control.outbox())["messages"]) == 1


async def test_throughput_answers_in_a_row_wait_longer_each_time(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    message_id = await _queued(db, control, {"code": 130429, "count": 6, "status": 400})
    rounds = Rounds(db, client, message_id)

    waits = []
    for n in range(1, 7):
        message = await rounds.next()
        assert _state(message) == ("queued", 0, n, 130429)
        waits.append(await rounds.wait_out(message))
    sent = await rounds.next()

    # The backoff from 0.2 s, one step later for each answer before: 0.1-0.2, 0.2-0.4 ...
    for n, wait in enumerate(waits):
        assert 0.1 * 2**n <= wait <= 0.2 * 2**n, (n, waits)
    assert waits == sorted(waits) and waits[-1] > 16 * waits[0]
    assert _state(sent) == ("sent", 1, 0, None)


async def test_a_fault_between_throttles_starts_their_waits_again_and_is_the_one_attempt_counted(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    message_id = await _queued(
        db,
        control,
        {"code": 131056, "count": 2, "status": 400},
        {"code": 131000, "count": 1, "status": 500},  # a fault: Meta answered otherwise
        {"code": 131056, "count": 1, "status": 400},
    )
    rounds = Rounds(db, client, message_id)

    states, waits = [], []
    for _ in range(4):
        message = await rounds.next()
        states.append(_state(message))
        waits.append(await rounds.wait_out(message))
    sent = await rounds.next()

    assert states == [
        ("queued", 0, 1, 131056),
        ("queued", 0, 2, 131056),
        ("queued", 1, 0, 131000),  # counted: a fault; the throttles in a row are over
        ("queued", 1, 1, 131056),
    ]
    assert waits[:2] == [1.0, 4.0] and 1.0 <= waits[2] <= 2.0 and waits[3] == 1.0
    # Two attempts of two: the four throttles, had they counted, would have failed it.
    assert _state(sent) == ("sent", 2, 0, None)
