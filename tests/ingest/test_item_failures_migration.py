"""Migration 0004 adds the failed-items table and takes it away, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, create_engine, insert, inspect, select

from ovenai.db import downgrade, upgrade
from ovenai.engines import sync_url
from ovenai.models import WebhookEvent, WebhookItemFailure

RECEIVED = datetime(2026, 12, 6, 0, 30, tzinfo=UTC)


def _bodies(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(WebhookEvent.id, WebhookEvent.status))]


def test_0004_adds_the_failed_items_table_and_drops_it_leaving_the_bodies(
    blank_url: str,
) -> None:
    upgrade(blank_url, "0003")
    engine = create_engine(sync_url(blank_url))
    body = {"id": "body-1", "received_at": RECEIVED, "key_bucket": "2026120600"}
    body |= {"body_size": 2, "status": "processed", "attempts": 1}
    with engine.begin() as conn:
        conn.execute(insert(WebhookEvent), [body])
    engine.dispose()  # a pooled SQLite connection answers PRAGMAs from the schema it read

    upgrade(blank_url, "0004")

    (foreign_key,) = inspect(engine).get_foreign_keys("webhook_item_failures")
    assert foreign_key["referred_table"] == "webhook_events"
    assert foreign_key["options"].get("ondelete") == "CASCADE"
    failure = {"id": "f-1", "event_id": "body-1", "item": "message", "field": "messages"}
    failure |= {"path": "$.entry[0]", "problem": "?", "first_seen": RECEIVED}
    with engine.begin() as conn:
        conn.execute(insert(WebhookItemFailure), [failure | {"last_seen": RECEIVED}])

    downgrade(blank_url, "0003")

    assert "webhook_item_failures" not in inspect(engine).get_table_names()
    assert _bodies(engine) == [("body-1", "processed")]
    upgrade(blank_url, "0004")
    with engine.connect() as conn:
        assert conn.execute(select(WebhookItemFailure.id)).all() == []
    engine.dispose()
