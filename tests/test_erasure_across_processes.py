"""Erasure from the CLI while `ovenai serve` runs as another process: its cached key is moot.

`serve` keeps unwrapped lead keys in memory (ovenai.keystore.Vault); an erasure done by the
`ovenai` command in another process cannot empty that cache. Every write of a lead's
personal data therefore checks the lead row in its own transaction: after the CLI's
erasure, the API refuses writes with 410 and stores nothing new.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from ovenai import auth
from ovenai.db import open_database
from ovenai.engines import sync_url
from ovenai.models import Role
from ovenai.settings import Settings
from support.aio import run_async

OVENAI = str(Path(sys.executable).with_name("ovenai"))
PHONE = "054-777-8888"


def _environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "OVENAI_KEYSTORE_URL": str(settings.keystore_url),
        "OVENAI_ENCRYPTION_KEYS": settings.secret("encryption_keys"),
        "OVENAI_SECRET_KEY": settings.secret("secret_key"),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _admin_token(settings: Settings) -> str:
    async def make() -> str:
        database = open_database(settings)
        try:
            await database.start()
            await auth.create_user(database, email="admin@example.co.il", role=Role.ADMIN)
            return (await auth.create_token(database, email="admin@example.co.il")).token
        finally:
            await database.dispose()

    return run_async(make)


@pytest.fixture
def serving(clean_db: Settings) -> Iterator[httpx.Client]:
    """`ovenai serve` as a process of its own, and an admin's client of it."""
    port = _free_port()
    process = subprocess.Popen(
        [OVENAI, "serve", "--port", str(port)],
        env=_environment(clean_db),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    headers = {"Authorization": f"Bearer {_admin_token(clean_db)}"}
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10)
    try:
        _wait_until_up(client, process)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "ovenai serve exited at start-up"
        try:
            client.get("/health")
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("ovenai serve did not start within 30 s")


def _stored(settings: Settings, lead_id: str) -> dict[str, int]:
    """What the main database holds for the lead, read directly."""
    queries = {
        "meetings": "SELECT count(*) FROM meetings WHERE lead_id = :id",
        "sealed_meeting_notes": (
            "SELECT count(*) FROM meetings WHERE lead_id = :id AND notes_enc IS NOT NULL"
        ),
        "messages": "SELECT count(*) FROM messages WHERE lead_id = :id",
        "sealed_lead_fields": (
            "SELECT count(*) FROM leads WHERE id = :id"
            " AND (notes_enc IS NOT NULL OR name_enc IS NOT NULL)"
        ),
    }
    engine = create_engine(sync_url(settings.database_url))
    try:
        with engine.connect() as conn:
            return {
                name: int(conn.execute(text(sql), {"id": lead_id}).scalar_one())
                for name, sql in queries.items()
            }
    finally:
        engine.dispose()


def test_after_a_cli_erasure_the_running_server_refuses_every_write_and_stores_nothing(
    serving: httpx.Client, clean_db: Settings
) -> None:
    lead = serving.post("/api/v1/leads", json={"name": "נועה שלום", "phone": PHONE}).json()
    booking = {"lead_id": lead["id"], "starts_at": "2036-12-24T10:00:00", "notes": "קומה 3"}
    meeting = serving.post("/api/v1/meetings", json=booking).json()
    # Both reads leave the lead's key in serve's cache.
    assert serving.get(f"/api/v1/leads/{lead['id']}").status_code == 200
    assert serving.get(f"/api/v1/meetings/{meeting['id']}").json()["notes"] == "קומה 3"

    erased = subprocess.run(
        [OVENAI, "privacy", "erase", PHONE, "--yes"],
        env=_environment(clean_db),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert erased.returncode == 0, erased.stderr
    before = _stored(clean_db, lead["id"])
    assert before == {
        "meetings": 1,
        "sealed_meeting_notes": 0,
        "messages": 0,
        "sealed_lead_fields": 0,
    }

    writes = [
        serving.post("/api/v1/meetings", json=booking),
        serving.patch(f"/api/v1/meetings/{meeting['id']}", json={"notes": "הערה חדשה"}),
        serving.patch(f"/api/v1/leads/{lead['id']}", json={"notes": "הערה חדשה"}),
        serving.post(f"/api/v1/leads/{lead['id']}/messages", json={"text": "שלום"}),
    ]
    for answer in writes:
        assert answer.status_code == 410, (answer.request.url, answer.text)
        assert answer.json()["message"] == f"lead {lead['id']} was erased"
    assert _stored(clean_db, lead["id"]) == before

    assert serving.get(f"/api/v1/leads/{lead['id']}").status_code == 410
    assert serving.get(f"/api/v1/meetings/{meeting['id']}").status_code == 410
    assert serving.get("/api/v1/meetings").json()["items"] == []
