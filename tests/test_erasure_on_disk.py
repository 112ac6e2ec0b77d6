"""A destroyed data key leaves no bytes in the key store's files, carved the way an attacker
with a copy of them (and the master key) would: SQLite's database, WAL and shared-memory
files; PostgreSQL's database directory after the documented `ovenai keys vacuum`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from ovenai import dialects, privacy
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.keystore import DataKey
from ovenai.lead_fields import LeadCreate
from ovenai.leads import create_lead
from ovenai.models import Role
from ovenai.settings import Settings

pytestmark = pytest.mark.anyio

ADMIN = Actor(user_id=None, role=Role.ADMIN, email="owner@agency.co.il")
PHONE = "+972526667777"


def _cat(paths: list[Path]) -> bytes:
    # Read by another process: closing a descriptor of a SQLite file in this one would drop
    # the POSIX locks of this process's live connections to it (see support.storage).
    files = [str(path) for path in paths if path.is_file()]
    return subprocess.run(["cat", *files], capture_output=True, check=True).stdout


def _sqlite_files(keystore_url: str) -> bytes:
    base = Path(str(make_url(keystore_url).database))
    return _cat([base, base.with_name(base.name + "-wal"), base.with_name(base.name + "-shm")])


def _postgres_files(keystore_url: str) -> bytes:
    """Every file of the key store's database, after a checkpoint wrote the buffers out."""
    name = str(make_url(keystore_url).database)
    dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={name}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        data_dir = conn.execute("SHOW data_directory").fetchone()
        table = conn.execute("SELECT pg_relation_filepath('data_keys')").fetchone()
    assert data_dir is not None and table is not None
    folder = Path(data_dir[0]) / str(table[0]).rsplit("/", 1)[0]  # base/<database oid>
    return _cat(sorted(folder.iterdir()))


def _key_store_files(keystore_url: str) -> bytes:
    if dialects.of_url(keystore_url) == "sqlite":
        return _sqlite_files(keystore_url)
    return _postgres_files(keystore_url)


async def _wrapped_key(db: Database, lead_id: str) -> bytes:
    query = select(DataKey.wrapped).where(DataKey.scope == "lead", DataKey.id == lead_id)
    async with db.vault.engine.connect() as conn:
        return bytes((await conn.execute(query)).scalar_one())


async def test_an_erased_leads_wrapped_key_is_in_none_of_the_key_stores_files(
    db: Database, clean_db: Settings
) -> None:
    keystore_url = str(clean_db.keystore_url)
    lead = await create_lead(db, actor=ADMIN, data=LeadCreate(name="מרים ברק", phone=PHONE))
    wrapped = await _wrapped_key(db, lead.id)
    assert wrapped in _key_store_files(keystore_url)  # the carving finds a key that exists

    await privacy.erase(db, actor=ADMIN, phone=PHONE)
    if dialects.of_url(keystore_url) == "postgresql":
        _keys_vacuum(clean_db)  # the documented maintenance step

    assert wrapped not in _key_store_files(keystore_url)


def _keys_vacuum(settings: Settings) -> None:
    """`ovenai keys vacuum`, run as an operator runs it."""
    environment = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "OVENAI_KEYSTORE_URL": str(settings.keystore_url),
        "OVENAI_ENCRYPTION_KEYS": settings.secret("encryption_keys"),
        "OVENAI_SECRET_KEY": settings.secret("secret_key"),
    }
    command = [str(Path(sys.executable).with_name("ovenai")), "keys", "vacuum"]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


async def test_the_vacuum_keeps_every_live_key(db: Database, clean_db: Settings) -> None:
    kept = await create_lead(db, actor=ADMIN, data=LeadCreate(name="דנה", phone="0521112222"))
    key = await db.vault.key("lead", kept.id)
    await db.vault.vacuum()
    db.vault.forget_cache()
    assert await db.vault.key("lead", kept.id) == key
