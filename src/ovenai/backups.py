"""Backups: the database and its key store taken together, restored together, and the
erasures made since a backup made again after restoring it.

One without the other is useless: the data is sealed under per-lead keys that live only in
the key store (wrapped by the master keys of ``OVENAI_ENCRYPTION_KEYS``, which are never in
either and must be kept apart, in the operator's secret store). :func:`take` dumps the data
first and the key store second, so a lead added between the two has its key in the backup,
and a lead erased between the two has none (its sealed data stays unreadable).

A restore brings back what the backup held, including the people erased *after* it was
taken. Every erasure is therefore also written, as its lead id and time (a random id: no
personal data), to the erasure journal (``OVENAI_ERASURE_JOURNAL``), an append-only file the
operator keeps outside the backups; :func:`replay_erasures` erases again every lead the
journal names that the restored databases still hold, so an erasure holds after a restore.

PostgreSQL is dumped with ``pg_dump -Fc`` and restored with ``pg_restore`` into empty
databases; SQLite with its online backup (a consistent copy while the product runs).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import make_url

from ovenai import dialects, erasure_journal, privacy
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.engines import conninfo
from ovenai.errors import ConfigurationError, CryptoError, InvalidInput
from ovenai.media_store import MediaStore
from ovenai.models import Lead
from ovenai.settings import Settings

MANIFEST = "manifest.json"
PARTS = ("data", "keys")  # in the order they are dumped: the data, then its key store


@dataclass(frozen=True)
class BackupReport:
    """What a backup holds: its folder, when it was taken and each part's file and size."""

    folder: Path
    taken_at: datetime
    files: dict[str, int]


@dataclass(frozen=True)
class ReplayReport:
    """What replaying the erasure journal did, by lead id."""

    erased: list[str]  # held by the restored databases: erased again
    already: list[str]  # erased there already (the key gone)
    absent: list[str]  # not in the restored databases at all


def _urls(settings: Settings) -> dict[str, str]:
    assert settings.keystore_url is not None  # placed by load_settings
    return {"data": settings.database_url, "keys": settings.keystore_url}


def _file_name(part: str, url: str) -> str:
    return f"{part}.{'sqlite' if dialects.of_url(url) == 'sqlite' else 'pgdump'}"


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as libpq's tools take it (a conninfo string; several hosts too)."""
    return conninfo(url)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ConfigurationError(f"{url} is not a SQLite file")
    return Path(database)


def _run(command: list[str]) -> None:
    found = shutil.which(command[0])
    if found is None:
        raise ConfigurationError(f"{command[0]} is needed (PostgreSQL's client tools)")
    done = subprocess.run([found, *command[1:]], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise ConfigurationError(
            f"{command[0]} failed: {message[-1] if message else done.returncode}"
        )


def _dump(url: str, target: Path) -> None:
    if dialects.of_url(url) == "sqlite":
        with sqlite3.connect(_sqlite_path(url)) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        return
    _run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", libpq_url(url)])


def take(settings: Settings, folder: Path) -> BackupReport:
    """Back the database and its key store up into ``folder`` (new or empty), the data
    first; a manifest says when and what. The master keys are not in it."""
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise InvalidInput(f"{folder} is not empty: a backup goes into a folder of its own")
    os.chmod(folder, 0o700)
    taken_at = utcnow()
    files: dict[str, int] = {}
    for part, url in _urls(settings).items():
        target = folder / _file_name(part, url)
        _dump(url, target)
        os.chmod(target, 0o600)
        files[target.name] = target.stat().st_size
    manifest = {"taken_at": taken_at.isoformat(), "files": files, "order": list(PARTS)}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return BackupReport(folder, taken_at, files)


def _empty(url: str) -> bool:
    engine = create_engine(url.replace("+aiosqlite", ""))
    try:
        with engine.connect() as connection:
            return not inspect(connection).get_table_names()
    finally:
        engine.dispose()


def restore(settings: Settings, folder: Path) -> BackupReport:
    """Restore a backup into the configured database and key store, which must be empty
    (new databases: a restore never overwrites data). Replay the erasure journal after."""
    manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text())
    for part, url in _urls(settings).items():
        source = folder / _file_name(part, url)
        if not source.exists():
            raise InvalidInput(f"{folder} has no {source.name} for this kind of database")
        if dialects.of_url(url) == "sqlite":
            path = _sqlite_path(url)
            if path.exists() and not _empty(url):
                raise InvalidInput(f"{path} is not empty: restore into a new database")
            path.parent.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(source) as dump, sqlite3.connect(path) as target:
                dump.backup(target)
            continue
        if not _empty(url):
            raise InvalidInput(f"the {part} database is not empty: restore into a new one")
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--exit-on-error",
                f"--dbname={libpq_url(url)}",
                str(source),
            ]
        )
    taken_at = datetime.fromisoformat(manifest["taken_at"])
    return BackupReport(folder, taken_at, dict(manifest["files"]))


async def replay_erasures(
    db: Database, journal: Path, *, files: MediaStore | None = None
) -> ReplayReport:
    """Erase again every lead the journal names that these (restored) databases still hold
    readable: a restore never brings back a person who asked to be forgotten."""
    wanted = erasure_journal.read(journal)
    async with db.session() as session:
        present = set(await session.scalars(select(Lead.id).where(Lead.id.in_(wanted))))
    report = ReplayReport(erased=[], already=[], absent=[])
    for lead_id in wanted:
        if lead_id not in present:
            report.absent.append(lead_id)
            continue
        try:
            await db.vault.key("lead", lead_id)
        except CryptoError:
            report.already.append(lead_id)
            continue
        await privacy.erase_lead(db, actor=Actor.system(), lead_id=lead_id, files=files)
        report.erased.append(lead_id)
    return report
