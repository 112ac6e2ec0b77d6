"""Connecting to a database: driver URLs and async engines set up for each backend.

SQLite runs in WAL mode with foreign keys on and every transaction opened ``BEGIN
IMMEDIATE`` (``BEGIN DEFERRED`` on a connection marked :data:`READS_ONLY`); PostgreSQL is used
as is. Both databases (the data and the key store) are
opened here, so this module sits below :mod:`ovenai.db` and :mod:`ovenai.keystore`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from psycopg.conninfo import make_conninfo
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ovenai import dialects, inline_sqlite

BUSY_TIMEOUT_S = 10  # how long SQLite waits for another transaction's write lock


def async_url(url: str) -> str:
    """The async-driver form of a database URL (aiosqlite / psycopg)."""
    parsed = make_url(url)
    if dialects.of_url(parsed) == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The sync-driver form of a database URL (sqlite3 / psycopg), used by migrations."""
    parsed = make_url(url)
    if dialects.of_url(parsed) == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def conninfo(url: str | URL, **extra: str) -> str:
    """A PostgreSQL URL as libpq's connection string, for a connection made without
    SQLAlchemy (psycopg's own, or a client tool's), with ``extra`` parameters added.

    Read by SQLAlchemy's psycopg dialect, so every form its engines take is read alike: above
    all several hosts (``?host=a:5432&host=b:5432&target_session_attrs=read-write``, the
    failover form of docs/operations.md) become libpq's ``host=a,b port=5432,5432``.
    """
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    _, params = parsed.get_dialect()().create_connect_args(parsed)
    given = {key: str(value) for key, value in params.items() if key != "context"}
    return make_conninfo(**(extra | given))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module (its legacy mode breaks
    # SAVEPOINT); `_sqlite_begin` opens each transaction instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    cursor.close()


READS_ONLY = "ovenai_reads_only"
"""An execution option (``engine.execution_options(**{READS_ONLY: True})``): the connection
only reads. On SQLite its transactions open ``BEGIN DEFERRED``, which in WAL mode neither
waits for a writer nor holds one up; elsewhere it changes nothing."""


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: a deferred transaction that later writes can
    # fail with SQLITE_BUSY_SNAPSHOT when another connection committed meanwhile. A reader
    # has no such risk, and taking the lock would queue it behind every writer.
    if connection.get_execution_options().get(READS_ONLY):
        connection.exec_driver_sql("BEGIN DEFERRED")
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE")


WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _sqlite_refuse_writes(
    connection: Any, _cursor: Any, statement: str, *_args: Any, **_kwargs: Any
) -> None:
    # A deferred transaction that writes would take the write lock halfway (and could fail
    # with SQLITE_BUSY_SNAPSHOT): a reader's session is refused any write, loudly.
    if not connection.get_execution_options().get(READS_ONLY):
        return
    verb = statement.lstrip()[:7].upper()
    if verb.startswith(WRITES):
        raise RuntimeError(f"a reading session may not write: {statement.split(maxsplit=3)[:3]}")


def _sqlite_secure_delete(dbapi_connection: Any, _record: Any) -> None:
    # Deleted rows are overwritten with zeros in the page, not just unlinked: a destroyed
    # data key must not stay readable in the file's free space (see ovenai.keystore).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def create_engine(url: str, *, secure_delete: bool = False, inline: bool = False) -> AsyncEngine:
    """An async engine for the URL; SQLite gets WAL mode and foreign keys on every connection,
    with `secure_delete` (the key store) zeroes what it deletes, and with `inline` runs its
    calls on the event loop's thread (:mod:`ovenai.inline_sqlite`; the worker's)."""
    target = async_url(url)
    if dialects.of_url(target) == "sqlite":
        ensure_sqlite_dir(target)
        database = make_url(target).database
        if inline and database and database != ":memory:":
            engine = create_async_engine(target, async_creator=inline_sqlite.connector(database))
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(engine.sync_engine, "connect", inline_sqlite.no_busy_timeout)
        else:
            engine = create_async_engine(target)
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if secure_delete:
            event.listen(engine.sync_engine, "connect", _sqlite_secure_delete)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        event.listen(engine.sync_engine, "before_cursor_execute", _sqlite_refuse_writes)
        return engine
    return create_async_engine(target, pool_size=10, max_overflow=20, pool_pre_ping=True)


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder and file of a SQLite URL owner-only (0700 folder, 0600 file).

    SQLite creates a missing file with the process's umask (often world-readable) and its
    -wal and -shm files with the database file's mode, so the file is made here first.
    """
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
