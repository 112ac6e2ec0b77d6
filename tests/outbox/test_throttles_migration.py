"""Migration 0009 adds messages.throttled_attempts (0 for stored messages) and removes it."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from ovenai.db import downgrade, upgrade
from ovenai.engines import sync_url

LEAD = (
    "INSERT INTO leads (id, language, source, stage, engagement_score, created_at, updated_at)"
    " VALUES ('l1', 'he', 'manual', 'new', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)
MESSAGE = (
    "INSERT INTO messages (id, lead_id, direction, type, status, status_at, attempts,"
    " created_at, updated_at) VALUES ('m1', 'l1', 'outbound', 'text', 'queued',"
    " CURRENT_TIMESTAMP, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


def test_0009_counts_no_throttles_for_stored_messages_and_goes_back(blank_url: str) -> None:
    upgrade(blank_url, "0008")
    engine = create_engine(sync_url(blank_url))
    with engine.begin() as conn:
        conn.execute(text(LEAD))
        conn.execute(text(MESSAGE))

    upgrade(blank_url, "0009")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT attempts, throttled_attempts FROM messages")).one()
    assert tuple(row) == (1, 0)

    downgrade(blank_url, "0008")
    assert "throttled_attempts" not in {c["name"] for c in inspect(engine).get_columns("messages")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT attempts FROM messages")).scalar_one() == 1
    engine.dispose()
