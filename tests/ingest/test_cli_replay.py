"""`ovenai webhooks process` drains; `ovenai webhooks replay --since` re-applies idempotently."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from ovenai.db import open_database
from ovenai.engines import sync_url
from ovenai.ingest.receive.event_store import EventStore

OVENAI = str(Path(sys.executable).with_name("ovenai"))


def run(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "OVENAI_KEYSTORE_URL": str(settings.keystore_url),
        "OVENAI_ENCRYPTION_KEYS": settings.secret("encryption_keys"),
        "OVENAI_SECRET_KEY": settings.secret("secret_key"),
    }
    return subprocess.run(
        [OVENAI, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def store(settings, *bodies: bytes) -> None:
    async def work() -> None:
        db = open_database(settings)
        await db.start()
        try:
            store = EventStore(db)
            for raw in bodies:
                await store.store(raw, {})
            store.close()
        finally:
            await db.dispose()

    asyncio.run(work())


def count(settings, sql: str) -> int:
    engine = create_engine(sync_url(settings.database_url))
    with engine.connect() as conn:
        value = conn.execute(text(sql)).scalar()
    engine.dispose()
    return int(value or 0)


def test_process_then_replay_applies_each_message_once(clean_db, bodies) -> None:
    store(clean_db, bodies.text("wamid.CLI1", "שלום"), bodies.text("wamid.CLI2", "hi", ts=2))
    processed = run(clean_db, "webhooks", "process")
    assert processed.returncode == 0, processed.stderr
    assert count(clean_db, "SELECT count(*) FROM webhook_events WHERE status='pending'") == 0
    replayed = run(clean_db, "webhooks", "replay", "--since", "1h")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.startswith("replayed 2 bodies")
    assert count(clean_db, "SELECT count(*) FROM messages") == 2
    assert count(clean_db, "SELECT count(*) FROM webhook_events WHERE status='processed'") == 2


def test_replay_refuses_a_time_it_cannot_read(clean_db) -> None:
    result = run(clean_db, "webhooks", "replay", "--since", "yesterday-ish")
    assert result.returncode == 65
    assert result.stderr.strip().startswith("error:") and len(result.stderr.splitlines()) == 1
