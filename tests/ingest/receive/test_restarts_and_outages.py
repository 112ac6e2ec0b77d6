"""A database that cannot store answers 503 (Meta retries); a restarted app drains the backlog."""

from __future__ import annotations

import asyncio
import time

import httpx
from prometheus_client import REGISTRY

from ovenai.db import open_database
from ovenai.endpoints import WEBHOOK_PATH as PATH
from ovenai.ingest.receive.event_store import EventStore
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign
from ovenai.web.app import create_app


def test_an_unreachable_database_answers_503_never_200(settings, serve, load_payload) -> None:
    broken = settings.model_copy(
        update={"database_url": "postgresql+psycopg://postgres@127.0.0.1:1/nothing"}
    )
    raw = load_payload("status_delivered.json")
    before = REGISTRY.get_sample_value("ovenai_webhook_rejected_total", {"reason": "unavailable"})
    with serve(create_app(broken)) as url:
        answer = httpx.post(
            url + PATH, content=raw, headers={SIGNATURE_HEADER: sign(raw, "test-app-secret")}
        )
    assert answer.status_code == 503
    after = REGISTRY.get_sample_value("ovenai_webhook_rejected_total", {"reason": "unavailable"})
    assert (after or 0) == (before or 0) + 1


def test_a_restarted_app_processes_what_was_stored_before_the_crash(
    clean_db, serve, bodies
) -> None:
    async def store_only() -> None:
        db = open_database(clean_db)
        await db.start()
        try:
            store = EventStore(db)
            for n in range(3):
                await store.store(bodies.text(f"wamid.R{n}", "שלום"), {})
            store.close()
        finally:
            await db.dispose()

    asyncio.run(store_only())  # the process that stored them died before processing
    assert _pending(clean_db) == 3
    with serve(create_app(clean_db)) as url:
        deadline = time.monotonic() + 10
        while True:
            # The restarted app serves while it drains: never "down" (no worker runs here,
            # so readiness says "degraded" for the workers and the Graph API check).
            with httpx.Client(base_url=url) as client:
                health = client.get("/health")
            assert health.status_code == 200, health.text
            assert health.json()["checks"]["database"]["status"] == "ok", health.text
            if _pending(clean_db) == 0:
                break
            assert time.monotonic() < deadline, "the backlog was not drained on start"
            time.sleep(0.05)


def _pending(settings) -> int:
    from sqlalchemy import create_engine, text

    from ovenai.engines import sync_url

    engine = create_engine(sync_url(settings.database_url))
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM webhook_events WHERE status <> 'processed'")
        ).scalar()
    engine.dispose()
    return int(count or 0)
