"""bench.growth's generator makes a consistent database (PostgreSQL: its SQL is PostgreSQL's)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from bench.growth.generate import Size, grow
from bench.growth.measure import first_pages
from bench.growth.subjects import ADMIN, make
from sqlalchemy import text

from ovenai import dialects, inbox
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.inbox import InboxFilter

pytestmark = pytest.mark.anyio

CHECKS = {
    # The triggers' newest message (time, then id) and last activity, for every lead.
    "leads whose latest message is not their newest": """
        SELECT count(*) FROM leads l
        WHERE l.latest_message_id IS DISTINCT FROM (
                SELECT m.id FROM messages m WHERE m.lead_id = l.id
                ORDER BY m.created_at DESC, m.id DESC LIMIT 1)
           OR l.last_activity_at <> coalesce(
                (SELECT max(m.created_at) FROM messages m WHERE m.lead_id = l.id), l.created_at)
    """,
    "leads whose last inbound time is not their newest inbound message's": """
        SELECT count(*) FROM leads l
        WHERE l.last_inbound_at IS DISTINCT FROM (
            SELECT max(m.created_at) FROM messages m
            WHERE m.lead_id = l.id AND m.direction = 'inbound')
    """,
    "inbound messages without their body, linked to their lead": """
        SELECT count(*) FROM messages m
        WHERE m.direction = 'inbound' AND NOT EXISTS (
            SELECT 1 FROM applied_items a
            JOIN webhook_event_leads w ON w.event_id = a.event_id
            JOIN webhook_events e ON e.id = a.event_id
            WHERE a.dedupe_key = 'message:' || m.wa_message_id AND w.lead_id = m.lead_id
              AND e.body_enc IS NOT NULL)
    """,
    "outbound messages without their status and its key": """
        SELECT count(*) FROM messages m
        WHERE m.direction = 'outbound' AND NOT EXISTS (
            SELECT 1 FROM status_events s JOIN applied_items a
              ON a.dedupe_key = 'status:' || s.wa_message_id || ':' || s.status
            WHERE s.wa_message_id = m.wa_message_id AND s.status = m.status)
    """,
    "outbound outcomes that do not fit their status": """
        SELECT count(*) FROM messages
        WHERE direction = 'outbound'
          AND ((status = 'failed') <> (failed_at IS NOT NULL AND sent_at IS NULL
                                       AND error_code IS NOT NULL)
               OR (status IN ('delivered', 'read')) <> (delivered_at IS NOT NULL)
               OR (status = 'read') <> (read_at IS NOT NULL))
    """,
    "opted-in leads without their consent row": """
        SELECT count(*) FROM leads l
        WHERE (l.opted_in_at IS NOT NULL) <> EXISTS (
            SELECT 1 FROM consent_events c WHERE c.lead_id = l.id AND c.kind = 'opt_in')
    """,
    "leads at a viewing or later without a meeting": """
        SELECT count(*) FROM leads l
        WHERE (l.stage NOT IN ('new', 'contacted', 'lost')) <> EXISTS (
            SELECT 1 FROM meetings m WHERE m.lead_id = l.id)
    """,
}


async def _scalar(db: Database, sql: str) -> Any:
    async with db.reading() as session:
        return await session.scalar(text(sql))


@pytest.fixture
async def pg(db: Database) -> Database:
    if not dialects.is_postgresql(db.dialect):
        pytest.skip("the generator writes PostgreSQL's SQL (generate_series, hashint8extended)")
    return db


async def test_growth_keeps_the_database_consistent(pg: Database) -> None:
    await grow(pg, Size(0, 0), Size(40, 400), utcnow())
    await grow(pg, Size(40, 400), Size(100, 1_300), utcnow())

    assert await _scalar(pg, "SELECT count(*) FROM leads") == 100
    assert await _scalar(pg, "SELECT count(*) FROM messages") == 1_300
    for what, sql in CHECKS.items():
        assert await _scalar(pg, sql) == 0, what
    # Both directions within most leads (ten messages each at this size).
    assert (
        await _scalar(
            pg,
            "SELECT count(*) FROM (SELECT lead_id FROM messages GROUP BY lead_id"
            " HAVING count(DISTINCT direction) = 2) AS both_ways",
        )
        >= 90
    )
    # The second step's messages went to its own leads only: the first 40 kept 10 each.
    assert (
        await _scalar(
            pg,
            "SELECT count(*) FROM (SELECT lead_id FROM messages GROUP BY lead_id"
            " HAVING count(*) = 10) AS tens",
        )
        >= 40
    )
    async with pg.reading() as session:
        ids = list(
            await session.scalars(text("SELECT id FROM leads UNION ALL SELECT id FROM messages"))
        )
    assert {uuid.UUID(value).version for value in ids} == {7}
    # Something for retention: one message in a thousand dated two years and a day back.
    assert (
        await _scalar(
            pg, "SELECT count(*) FROM messages WHERE created_at < now() - interval '730 days'"
        )
        == 2
    )  # messages 7 and 1,007


async def test_measured_leads_and_inbox_pages_open(pg: Database) -> None:
    await grow(pg, Size(0, 0), Size(60, 600), utcnow())
    subjects = await make(pg, 0, 2)
    async with pg.reading() as session:
        for subject in subjects:
            found = await session.execute(
                text("SELECT direction, count(*) FROM messages WHERE lead_id = :id GROUP BY 1"),
                {"id": subject.id},
            )
            assert dict(found.all()) == {"inbound": 3, "outbound": 3}

    await first_pages(pg)
    page = await inbox.list_inbox(pg, actor=ADMIN, filters=InboxFilter())

    assert len(page.items) == 50
    assert [row.lead.id for row in page.items[:2]] == [s.id for s in reversed(subjects)]
    assert all(row.latest is not None and row.latest.text for row in page.items)
