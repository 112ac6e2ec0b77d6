"""Rollback: with data in every table, upgrade to head → `ovenai db downgrade -1` → upgrade
loses nothing but what the undone migration itself added (and the command lists exactly
that); and every migration's downgrade() runs, down to base and back up.

The migrations are read from migrations/versions at run time (ovenai.rollback.revisions),
so a new migration is covered the day it is added.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import psycopg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, insert, pool, select, types
from typer.testing import CliRunner

from ovenai import db, rollback
from ovenai.cli import app
from ovenai.crypto import generate_master_key
from ovenai.db import upgrade, upgrade_keystore
from ovenai.engines import sync_url

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
ROWS = 2
# Columns a migration fills from other rows (upgrading backfills them, so the roundtrip
# brings their values back instead of leaving them empty): each lead's last activity (0025),
# the phone its search tokens were made from (0029).
DERIVED = {
    ("leads", "last_activity_at"),
    ("leads", "latest_message_id"),
    ("leads", "phone_tokens_index"),
}
# Tables the database's triggers keep from another table's rows (sums of them), as the
# reply marks by hour (0030): filled by those triggers when the rows they sum are, never
# by hand; a downgrade of their migration discards them, its upgrade fills them again.
KEPT_BY_TRIGGERS = {"reply_mark_hours"}


@pytest.fixture(params=["postgresql", "sqlite"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A new, empty data database and key store of its own (never the shared test ones)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ovenai.db'}", f"sqlite:///{tmp_path / 'keys.db'}"
        return
    try:
        psycopg.connect(ADMIN).close()
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is unreachable ({exc.__class__.__name__})")
    name = f"ovenai_rollback_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute(f'CREATE DATABASE "{name}_keys"')
    base = "postgresql+psycopg://postgres@127.0.0.1:5432"
    yield f"{base}/{name}", f"{base}/{name}_keys"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'DROP DATABASE "{name}_keys" WITH (FORCE)')


def _value(column: Any, table: str, row: int) -> Any:
    kind = column.type
    if isinstance(kind, types.Boolean):
        return row % 2 == 0
    if isinstance(kind, types.Integer | types.Numeric):
        return row + 1
    if isinstance(kind, types.Float):
        return row + 0.5
    if isinstance(kind, types.DateTime):
        return datetime(2026, 12, 6, 12, row, tzinfo=UTC)
    if isinstance(kind, types.Date):
        return date(2026, 12, 6 - row)
    if isinstance(kind, types.LargeBinary):
        return f"{table}.{column.name}.{row}".encode()
    if isinstance(kind, types.JSON):
        return {"row": row}
    text = f"{row}-{table}-{column.name}"
    length = getattr(kind, "length", None)
    return text[:length] if length else text


def fill_every_table(url: str) -> dict[str, int]:
    """ROWS rows in every table (parents first, foreign keys pointing at them)."""
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    metadata = MetaData()
    metadata.reflect(engine)
    made: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            if table.name == rollback.VERSION_TABLE or table.name in KEPT_BY_TRIGGERS:
                continue
            rows = []
            for index in range(ROWS):
                row = {c.name: _value(c, table.name, index) for c in table.columns}
                if table.name == "leads" and "phone_tokens_index" in row:
                    # The phone index of the lead's search tokens (lead_phone_tokens row
                    # `index` points at this lead), as 0029's upgrade fills it again.
                    row["phone_tokens_index"] = f"{index}-lead_phone_tokens-phone_index"
                for key in table.foreign_key_constraints:
                    parent = made[key.referred_table.name][index]
                    for local, remote in zip(key.column_keys, key.elements, strict=True):
                        row[local] = parent[remote.column.name]
                rows.append(row)
            connection.execute(insert(table), rows)
            made[table.name] = rows
    engine.dispose()
    return {name: len(rows) for name, rows in made.items()}


def after_digest(url: str, table: str, column: str) -> str:
    return column_digests(url)[(table, column)]


def column_digests(url: str) -> dict[tuple[str, str], str]:
    """A digest of each column's values, rows in primary-key order."""
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    metadata = MetaData()
    metadata.reflect(engine)
    found: dict[tuple[str, str], str] = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name == rollback.VERSION_TABLE:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = connection.execute(select(table).order_by(*order)).mappings().all()
            for column in table.columns:
                values = repr([row[column.name] for row in rows]).encode()
                found[(table.name, column.name)] = hashlib.sha256(values).hexdigest()
    engine.dispose()
    return found


def _environment(url: str, keystore: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "OVENAI_KEYSTORE_URL": keystore,
        "OVENAI_ENCRYPTION_KEYS": generate_master_key(),
        "OVENAI_SECRET_KEY": secrets.token_urlsafe(32),
        "OVENAI_DATA_DIR": str(tmp_path / "var"),
        "OVENAI_ENV": "development",
    }


def _migration(revision: str) -> ModuleType:
    """A migration's module (its constants, such as RECOUNTED)."""
    found = ScriptDirectory(str(db.MIGRATIONS_DIR)).get_revision(revision)
    assert found is not None
    return cast(ModuleType, found.module)


def test_downgrade_one_step_and_upgrade_loses_nothing_else(
    fresh: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, keystore = fresh
    monkeypatch.chdir(tmp_path)
    known = rollback.revisions()  # read once: a migration added meanwhile waits its turn
    head, previous = known[-1], known[-2]
    upgrade(url, head)
    upgrade_keystore(keystore)
    assert rollback.current(url) == head
    filled = fill_every_table(url)
    before = rollback.snapshot(url)
    assert set(filled) | (KEPT_BY_TRIGGERS & set(before)) == set(before)
    assert all(t.rows == ROWS for name, t in before.items() if name not in KEPT_BY_TRIGGERS)
    columns = {name: set(data.filled) for name, data in before.items()}
    before_digests = column_digests(url)

    result = CliRunner().invoke(
        app, ["db", "downgrade", "-1"], env=_environment(url, keystore, tmp_path)
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"database downgraded from {head} to {previous}"
    assert rollback.current(url) == previous
    middle = rollback.snapshot(url)

    # What the undone migration added: its tables and columns; nothing else moved.
    gone_tables = set(before) - set(middle)
    gone_columns = {
        (name, column)
        for name, data in middle.items()
        for column in set(before[name].filled) - set(data.filled)
    }
    expected = {f"  discarded table {name} ({before[name].rows} rows)" for name in gone_tables}
    expected |= {f"  discarded column {t}.{c} ({ROWS} values)" for t, c in gone_columns}
    assert set(lines[1:]) == (expected or {"  no data was discarded"})
    assert set(middle) <= set(before)
    for name, data in middle.items():
        assert data.rows == before[name].rows, name
        assert all(n == before[name].filled[c] for c, n in data.filled.items()), name
    middle_digests = column_digests(url)
    assert middle_digests == {key: before_digests[key] for key in middle_digests}

    upgrade(url, head)
    assert rollback.current(url) == head
    after = rollback.snapshot(url)
    assert set(after) == set(before)
    # A migration may empty tables the worker's jobs count again from the messages (their
    # kept figures); it names them in RECOUNTED. Nothing else may lose a row.
    recounted = set(getattr(_migration(head), "RECOUNTED", ()))
    assert recounted <= set(before)
    refilled = KEPT_BY_TRIGGERS - recounted
    emptied = (gone_tables | recounted) - refilled
    assert {name: set(data.filled) for name, data in after.items() if name not in emptied} == {
        name: filled for name, filled in columns.items() if name not in emptied
    }
    for name, data in after.items():
        assert data.rows == (0 if name in emptied else before[name].rows), name
    for key, digest in before_digests.items():
        if key[0] in refilled & gone_tables:  # filled again from the rows they sum
            assert after_digest(url, *key) == digest, key
    for name, column in gone_columns:
        if (name, column) in DERIVED:  # filled again from the rows they are derived from
            assert after_digest(url, name, column) == before_digests[(name, column)]
        else:
            assert after[name].filled[column] == 0
    after_digests = column_digests(url)
    kept = {key: digest for key, digest in middle_digests.items() if key[0] not in recounted}
    assert {key: after_digests[key] for key in kept} == kept


def test_every_downgrade_runs_down_to_base_and_back(
    fresh: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url, _ = fresh
    monkeypatch.chdir(tmp_path)
    known = rollback.revisions()
    upgrade(url, known[-1])
    schema = {name: set(data.filled) for name, data in rollback.snapshot(url).items()}
    for expected in reversed([None, *known[:-1]]):
        report = rollback.downgrade(url, "-1" if expected else "base")
        assert report.after == expected
    assert rollback.snapshot(url) == {}
    upgrade(url, known[-1])
    assert {name: set(data.filled) for name, data in rollback.snapshot(url).items()} == schema
