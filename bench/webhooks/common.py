"""Shared set-up: a fresh database of either backend, settings, and signed status bodies."""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from ovenai.db import upgrade, upgrade_keystore
from ovenai.ingest.receive.signature import sign
from ovenai.keystore import generate_master_key
from ovenai.settings import Settings, load_settings

APP_SECRET = "bench-app-secret"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432"

NO_REACTIONS = "BENCH_NO_REACTIONS"
"""Set in its environment: the separate processor applies without the consent, score and
automation hooks (``bench.webhooks.ack --no-reactions``)."""


@contextmanager
def fresh_database(backend: str, *, keystore: str = "sqlite") -> Iterator[dict[str, str]]:
    """Environment variables for a new, migrated database; the database and the temporary
    folder (SQLite files, key store, data dir) are removed afterwards, whatever happened.

    The key store is a SQLite file (the development default) unless ``keystore`` is
    ``postgresql``: then a PostgreSQL database of its own, as production requires."""
    folder = Path(tempfile.mkdtemp(prefix="ovenai-bench-"))
    env = {
        "OVENAI_ENCRYPTION_KEYS": generate_master_key(key_id="bench"),
        "OVENAI_SECRET_KEY": secrets.token_urlsafe(32),
        "OVENAI_KEYSTORE_URL": f"sqlite:///{folder / 'keys.db'}",
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "OVENAI_DATA_DIR": str(folder),
    }
    name = f"ovenai_bench_{secrets.token_hex(4)}"
    created: list[str] = []
    try:
        if backend == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{folder / 'ovenai.db'}"
        else:
            env["DATABASE_URL"] = _created(created, name)
        if keystore == "postgresql":
            env["OVENAI_KEYSTORE_URL"] = _created(created, f"{name}_keys")
        upgrade(env["DATABASE_URL"])
        upgrade_keystore(env["OVENAI_KEYSTORE_URL"])
        yield env
    finally:
        for made in created:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{made}" WITH (FORCE)')
        shutil.rmtree(folder, ignore_errors=True)


def _created(created: list[str], name: str) -> str:
    """A new PostgreSQL database of this name (remembered in ``created``); its URL."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    created.append(name)
    return f"{PG_BASE}/{name}"


def kept_env(folder: Path, name: str) -> dict[str, str]:
    """Environment variables for the PostgreSQL database ``name`` (one a bench keeps or
    makes itself), with a new master key and its key store in ``folder``."""
    return {
        "OVENAI_ENCRYPTION_KEYS": generate_master_key(key_id="bench"),
        "OVENAI_SECRET_KEY": secrets.token_urlsafe(32),
        "OVENAI_KEYSTORE_URL": f"sqlite:///{folder / 'keys.db'}",
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "OVENAI_DATA_DIR": str(folder),
        "DATABASE_URL": f"{PG_BASE}/{name}",
    }


def settings_from(env: dict[str, str]) -> Settings:
    """Settings built from the bench environment."""
    return load_settings(
        database_url=env["DATABASE_URL"],
        keystore_url=env["OVENAI_KEYSTORE_URL"],
        encryption_keys=env["OVENAI_ENCRYPTION_KEYS"],
        secret_key=env["OVENAI_SECRET_KEY"],
        whatsapp_app_secret=env["WHATSAPP_APP_SECRET"],
        data_dir=env["OVENAI_DATA_DIR"],
    )


def wamid(n: int) -> str:
    """A realistic-length wamid for outbound message ``n``."""
    return f"wamid.HBgMOTcyNTIxMjM0NTY3FQIAERgSQkVOQ0g{n:012d}AA=="


def status_body(n: int, status: str = "delivered", ts: int = 1767000060) -> bytes:
    """A status webhook as Meta sends it (one status, pricing, escaped like Meta)."""
    item = {
        "id": wamid(n),
        "status": status,
        "timestamp": str(ts),
        "recipient_id": "972521234567",
        "recipient_user_id": "IL.5550001112223334445",
        "pricing": {
            "billable": True,
            "pricing_model": "PMP",
            "type": "regular",
            "category": "utility",
        },
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "97233760000", "phone_number_id": "420000000000002"},
        "statuses": [item],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "310000000000001", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def signature(raw: bytes) -> str:
    """The X-Hub-Signature-256 value Meta would send."""
    return sign(raw, APP_SECRET)
