"""A stored body's receipt time compares as a time on both databases (replays find it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from ovenai.ingest import backlog
from ovenai.models import WebhookEvent

pytestmark = pytest.mark.anyio

WHOLE_SECOND = datetime(2026, 12, 6, 1, 0, 0, tzinfo=UTC)


async def test_a_body_received_on_a_whole_second_is_found_since_that_second(
    bodies, harness
) -> None:
    with time_machine.travel(WHOLE_SECOND, tick=False):
        event_id = await harness.keep(bodies.text("wamid.WHOLE1", "hi"))
    async with harness.db.session() as session:
        found = await session.scalar(
            select(func.count()).where(
                WebhookEvent.id == event_id, WebhookEvent.received_at >= WHOLE_SECOND
            )
        )
        requeued = await backlog.requeue_since(session, WHOLE_SECOND)
        await session.rollback()
    assert found == 1
    assert requeued >= 1
