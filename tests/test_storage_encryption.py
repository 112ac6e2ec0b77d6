"""Personal data never lies in the database in plaintext (SQLite file and PostgreSQL dump)."""

from __future__ import annotations

from pathlib import Path

import httpx

from ovenai.settings import Settings
from support.storage import stored_bytes

NAME = "שושנה דמארי"
PHONE = "+972545551234"
NOTES = "מעדיפה קומה גבוהה ליד הים"


def test_names_phones_and_notes_are_not_stored_in_plaintext(
    admin: httpx.Client, settings: Settings, tmp_path: Path
) -> None:
    created = admin.post("/api/v1/leads", json={"name": NAME, "phone": PHONE, "notes": NOTES})
    assert created.status_code == 201
    assert admin.get(f"/api/v1/leads/{created.json()['id']}").json()["notes"] == NOTES
    stored = stored_bytes(settings.database_url, tmp_path)
    assert len(stored) > 0
    for secret in (NAME, NOTES, "שושנה", PHONE, PHONE[1:], "0545551234", "545551234"):
        assert secret.encode("utf-8") not in stored, secret
        assert secret.encode("utf-16-le") not in stored, secret
