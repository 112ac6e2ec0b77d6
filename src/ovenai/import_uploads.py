"""Spreadsheets uploaded on the dashboard, kept sealed until their import is confirmed.

The dashboard's import is two steps: the upload is previewed (a dry run of
:func:`ovenai.lead_import.import_sheet`), then confirmed. Between the two the file is kept on
the server only, never sent back to the browser: sealed (AES-256-GCM,
:func:`ovenai.sealing.seal_upload`) under a data key of its own in the key store, in
``<data dir>/lead_imports/<id>``, with a small plain record of who uploaded it, when, its
file name and the options chosen. It is deleted and its key destroyed when the import is
confirmed or cancelled, or :data:`KEEP` after the upload (:func:`sweep`, run on every upload).
Only the user who uploaded it may confirm or cancel it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ovenai import sealing
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.errors import CryptoError, NotFound

KEEP = timedelta(hours=1)
FOLDER = "lead_imports"
_ID = re.compile(r"[0-9a-f-]{36}")


@dataclass(frozen=True)
class Upload:
    """An upload awaiting its import: who, when, the file's name and the options."""

    id: str
    user_id: str | None
    filename: str
    overwrite: bool
    uploaded_at: str  # ISO 8601, UTC


def _folder(data_dir: Path) -> Path:
    return data_dir / FOLDER


async def keep(
    db: Database, data_dir: Path, *, actor: Actor, data: bytes, filename: str, overwrite: bool
) -> Upload:
    """Seal and store an upload; what it is stored as."""
    upload = Upload(new_id(), actor.user_id, filename[:200], overwrite, utcnow().isoformat())
    key = await db.vault.key(sealing.UPLOADS, upload.id, create=True)
    folder = _folder(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / upload.id).write_bytes(sealing.seal_upload(key, upload.id, data))
    (folder / f"{upload.id}.json").write_text(json.dumps(asdict(upload)), encoding="utf-8")
    return upload


def _record(data_dir: Path, actor: Actor, upload_id: str) -> Upload:
    """An upload of this actor still kept; NotFound otherwise (expired, someone else's)."""
    path = _folder(data_dir) / f"{upload_id}.json"
    if not _ID.fullmatch(upload_id) or not path.exists():
        raise NotFound("the uploaded file is no longer kept; upload it again")
    upload = Upload(**json.loads(path.read_text(encoding="utf-8")))
    expired = utcnow() - datetime.fromisoformat(upload.uploaded_at) > KEEP
    if upload.user_id != actor.user_id or expired:
        raise NotFound("the uploaded file is no longer kept; upload it again")
    return upload


async def take(
    db: Database, data_dir: Path, *, actor: Actor, upload_id: str
) -> tuple[Upload, bytes]:
    """An upload's record and its file's bytes (it stays kept until :func:`discard`)."""
    upload = _record(data_dir, actor, upload_id)
    try:
        key = await db.vault.key(sealing.UPLOADS, upload.id)
        blob = (_folder(data_dir) / upload.id).read_bytes()
        return upload, sealing.open_upload(key, upload.id, blob)
    except (CryptoError, FileNotFoundError):
        raise NotFound("the uploaded file is no longer kept; upload it again") from None


async def discard(db: Database, data_dir: Path, upload_id: str) -> None:
    """Delete an upload and destroy its key (nothing of it can be read afterwards)."""
    if not _ID.fullmatch(upload_id):
        return
    await db.vault.destroy(sealing.UPLOADS, upload_id)
    for path in (_folder(data_dir) / upload_id, _folder(data_dir) / f"{upload_id}.json"):
        path.unlink(missing_ok=True)


async def sweep(db: Database, data_dir: Path) -> int:
    """Discard every upload older than :data:`KEEP`; how many."""
    folder = _folder(data_dir)
    if not folder.exists():
        return 0
    gone = 0
    now = utcnow()
    for path in folder.glob("*.json"):
        try:
            at = datetime.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["uploaded_at"])
        except (ValueError, KeyError, OSError):
            at = now - KEEP - KEEP
        if now - at > KEEP:
            await discard(db, data_dir, path.stem)
            gone += 1
    return gone
