"""Database access: engines, sessions, ids and the column types every table shares.

One :class:`Database` per process holds the async engine (aiosqlite or psycopg 3) and the
session factory. SQLite runs in WAL mode with foreign keys on; PostgreSQL is used as is.
The schema is created only by Alembic migrations (:func:`upgrade`).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator

from ovenai.errors import ServiceUnavailable

if TYPE_CHECKING:
    from ovenai.crypto import KeyRing

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
KEYSTORE_MIGRATIONS_DIR = MIGRATIONS_DIR / "keystore"


def new_id() -> str:
    """A time-ordered UUID (version 7) as a string: sortable, so cursors can use it."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68) << 64  # 12 random bits
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no time zone type; storing UTC and re-attaching the zone on read makes both
    databases behave the same. Naive datetimes are refused: they are always a bug here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stored_datetimes(dialect: Dialect) -> Callable[[datetime | None], Any]:
    """What ``UTCDateTime`` hands the driver for a value (naive datetimes refused)."""
    processor = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None  # UTCDateTime always converts
    return processor


def read_datetimes(dialect: Dialect) -> Callable[[Any], datetime | None]:
    """What ``UTCDateTime`` makes of a value the driver returned (UTC, timezone-aware)."""
    processor = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert processor is not None  # UTCDateTime always converts
    return processor


def async_url(url: str) -> str:
    """The async-driver form of a database URL (aiosqlite / psycopg)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The sync-driver form of a database URL (sqlite3 / psycopg), used by migrations."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


BUSY_TIMEOUT_S = 10  # how long SQLite waits for another transaction's write lock
TURN_WAIT_S = 1.0  # how long a session waits for its process's turn (Database._turn)


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


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: a deferred transaction that later writes can
    # fail with SQLITE_BUSY_SNAPSHOT when another connection committed meanwhile.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str) -> AsyncEngine:
    """An async engine for the URL; SQLite gets WAL mode and foreign keys on every connection."""
    target = async_url(url)
    if make_url(target).get_backend_name() == "sqlite":
        _ensure_sqlite_dir(target)
        engine = create_async_engine(target)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(target, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


class _Turn:
    """One event loop's turn at a SQLite database: the lock and the task holding it."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.owner: asyncio.Task[Any] | None = None


class Database:
    """The process's engine, session factory and key store (the data layer's one handle)."""

    def __init__(self, url: str, ring: KeyRing, keystore_url: str) -> None:
        from ovenai.keystore import Vault

        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.vault = Vault(ring, keystore_url)
        # SQLite: one transaction at a time per process, in turn (see _turn).
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turn] = (
            weakref.WeakKeyDictionary()
        )

    async def start(self) -> None:
        """Load the keys the data layer needs; call once after migrations."""
        await self.vault.start()

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose connection errors become ServiceUnavailable."""
        async with self._turn():
            try:
                async with self.sessions() as session:
                    yield session
            except (OperationalError, DBAPIError) as exc:
                if exc.connection_invalidated or isinstance(exc, OperationalError):
                    raise ServiceUnavailable("the database cannot be reached") from exc
                raise

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """On SQLite, wait in line for this process's turn at the database.

        Every SQLite transaction here takes the write lock (``BEGIN IMMEDIATE``), and SQLite
        lets waiters poll for it, sleeping longer each time (up to 100 ms): under load a
        short transaction could lose to longer ones for a third of a second (seen with the
        worker's rate-limit reservations, bench/outbound capped). A first-come lock per
        event loop hands the turn on at once. It only orders sessions, never refuses one: a
        session opened inside another of the same task shares its turn, and one that waited
        ``TURN_WAIT_S`` (a session held open elsewhere while it awaits something else) goes
        on to SQLite's own locking, as every session did before. Other processes always
        meet SQLite's busy timeout.
        """
        if self.dialect != "sqlite":
            yield
            return
        loop = asyncio.get_running_loop()
        turn = self._turns.get(loop)
        if turn is None:
            turn = self._turns[loop] = _Turn()
        task = asyncio.current_task()
        if turn.owner is task:
            yield
            return
        try:
            async with asyncio.timeout(TURN_WAIT_S):
                await turn.lock.acquire()
        except TimeoutError:
            got_turn = False
        else:
            got_turn = True
        if not got_turn:
            yield  # no turn: SQLite's busy timeout decides
            return
        turn.owner = task
        try:
            yield
        finally:
            turn.owner = None
            turn.lock.release()

    async def ping(self) -> None:
        """Run a trivial query; raises ServiceUnavailable when the database is down."""
        async with self.session() as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection (data and key store)."""
        await self.engine.dispose()
        await self.vault.dispose()


def _alembic_config(url: str, directory: Path = MIGRATIONS_DIR) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(directory))
    config.attributes["database_url"] = sync_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        _ensure_sqlite_dir(url)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the Alembic migrations up to `revision` (the only way the schema is made)."""
    alembic_command.upgrade(_alembic_config(url), revision)


def upgrade_keystore(url: str) -> None:
    """Apply the key store's migrations (its own database, see ovenai.keystore)."""
    alembic_command.upgrade(_alembic_config(url, KEYSTORE_MIGRATIONS_DIR), "head")


def downgrade(url: str, revision: str) -> None:
    """Undo migrations down to `revision`."""
    alembic_command.downgrade(_alembic_config(url), revision)
