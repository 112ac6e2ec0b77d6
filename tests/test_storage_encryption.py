"""Personal data never lies in the database in plaintext (SQLite file and PostgreSQL dump)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from ovenai.settings import Settings

NAME = "שושנה דמארי"
PHONE = "+972545551234"
NOTES = "מעדיפה קומה גבוהה ליד הים"


def _stored_bytes(settings: Settings, tmp_path: Path) -> bytes:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        base = Path(str(url.database))
        return b"".join(p.read_bytes() for p in base.parent.glob(base.name + "*"))
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    dump = tmp_path / "dump.sql"
    subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-f", str(dump), str(url.database)],
        check=True,
        timeout=60,
    )
    return dump.read_bytes()


def test_names_phones_and_notes_are_not_stored_in_plaintext(
    admin: httpx.Client, settings: Settings, tmp_path: Path
) -> None:
    created = admin.post("/api/v1/leads", json={"name": NAME, "phone": PHONE, "notes": NOTES})
    assert created.status_code == 201
    assert admin.get(f"/api/v1/leads/{created.json()['id']}").json()["notes"] == NOTES
    stored = _stored_bytes(settings, tmp_path)
    assert len(stored) > 0
    for secret in (NAME, NOTES, "שושנה", PHONE, PHONE[1:], "0545551234", "545551234"):
        assert secret.encode("utf-8") not in stored, secret
        assert secret.encode("utf-16-le") not in stored, secret
