"""`ovenai webhooks process` drains; `ovenai webhooks replay --since` re-applies idempotently;
`ovenai webhooks failed` lists what failed and `replay --failed` reads it again."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from ovenai.columns import new_id, utcnow
from ovenai.db import open_database
from ovenai.engines import sync_url
from ovenai.ingest.receive.event_store import EventStore
from ovenai.models import WebhookItemFailure

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


def single(settings, sql: str) -> str:
    engine = create_engine(sync_url(settings.database_url))
    with engine.connect() as conn:
        (value,) = conn.execute(text(sql)).scalars().all()
    engine.dispose()
    return str(value)


def execute(settings, *statements: str) -> None:
    engine = create_engine(sync_url(settings.database_url))
    with engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))
    engine.dispose()


def add_failure(settings, event_id: str, path: str) -> None:
    """Record a failed item by hand, as an older version that could not read it did."""
    row = {"id": new_id(), "event_id": event_id, "item": "message", "field": "messages"}
    row |= {"path": path, "problem": "old parser", "first_seen": utcnow(), "last_seen": utcnow()}
    engine = create_engine(sync_url(settings.database_url))
    with engine.begin() as conn:
        conn.execute(insert(WebhookItemFailure), [row])
    engine.dispose()


BROKEN = b'{"object": "whatsapp_business_account", "entry": 5}'


def one_unreadable_message(bodies) -> bytes:
    """A body whose first message has no id (unreadable) and whose second is sound."""
    contact = {"profile": {"name": "Noa"}, "wa_id": "972521234567"}
    common = {"from": "972521234567", "timestamp": "1767000000", "type": "text"}
    unreadable = {**common, "text": {"body": "בלי מזהה"}}
    sound = {"id": "wamid.CLI3", **common, "text": {"body": "שלום"}}
    return bodies.envelope({"contacts": [contact], "messages": [unreadable, sound]})


def settled(settings) -> None:
    """Wait until no stored body is pending (the session's live server may process them)."""
    deadline = time.monotonic() + 15
    while count(settings, "SELECT count(*) FROM webhook_events WHERE status='pending'"):
        assert time.monotonic() < deadline, "stored bodies were never processed"
        time.sleep(0.05)


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


def test_failed_lists_failed_bodies_and_bodies_with_failed_items(clean_db, bodies) -> None:
    store(clean_db, BROKEN, one_unreadable_message(bodies), bodies.text("wamid.CLI4", "hi"))
    assert run(clean_db, "webhooks", "process").returncode == 0
    settled(clean_db)
    failed = single(clean_db, "SELECT id FROM webhook_events WHERE status='failed'")
    partial = single(clean_db, "SELECT event_id FROM webhook_item_failures")

    listed = run(clean_db, "webhooks", "failed", "--since", "1h")

    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 3  # the sound body is not listed
    at = {line.split("  ")[1]: n for n, line in enumerate(lines) if not line.startswith(" ")}
    failed_line = lines[at[failed]].split("  ", 3)
    assert failed_line[2] == "failed" and failed_line[3].startswith("MalformedPayload")
    assert lines[at[partial]].split("  ")[2:] == ["processed"]
    item, field, path, problem = lines[at[partial] + 1].strip().split("  ")
    assert (item, field) == ("message", "messages") and path.startswith("$")
    assert "`id`" in problem and "בלי מזהה" not in listed.stdout
    later = run(clean_db, "webhooks", "failed", "--since", "2099-01-01T00:00:00")
    assert later.stdout.strip() == "no failed bodies and no failed items"


def test_replay_failed_applies_what_an_older_version_could_not_read_once(clean_db, bodies) -> None:
    store(clean_db, bodies.text("wamid.CLI5", "ראשון"))
    assert run(clean_db, "webhooks", "process").returncode == 0
    settled(clean_db)
    event_id = single(clean_db, "SELECT id FROM webhook_events")
    # An older version could not read the message: nothing applied, the item recorded.
    execute(clean_db, "DELETE FROM messages", "DELETE FROM applied_items")
    add_failure(clean_db, event_id, "$.entry[0].changes[0].value.messages[0]")

    first = run(clean_db, "webhooks", "replay", "--failed")
    settled(clean_db)
    again = run(clean_db, "webhooks", "replay", "--failed")

    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("replayed 0 failed bodies and 1 with failed items: ")
    assert again.stdout.startswith("replayed 0 failed bodies and 0 with failed items: ")
    assert again.stdout.rstrip().endswith("still failing: 0 bodies, 0 items")
    assert count(clean_db, "SELECT count(*) FROM messages") == 1
    assert count(clean_db, "SELECT count(*) FROM webhook_item_failures") == 0


def test_replay_needs_since_or_failed(clean_db) -> None:
    result = run(clean_db, "webhooks", "replay")
    assert result.returncode == 65
    assert result.stderr.strip() == "error: give --since TIME, --failed, or both"
