"""Database access: the process's one handle on the data, and the migrations.

One :class:`Database` per process holds the async engine (aiosqlite or psycopg 3, set up by
:mod:`ovenai.engines`), the session factory and the key store (:class:`ovenai.keystore.Vault`);
:func:`open_database` builds it from the settings. The schema is created only by Alembic
migrations (:func:`upgrade`). Ids and timestamp columns live in :mod:`ovenai.columns`.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from ovenai import dialects
from ovenai.engines import READS_ONLY, create_engine, ensure_sqlite_dir, sync_url
from ovenai.errors import ServiceUnavailable
from ovenai.keystore import KeyRing, Vault
from ovenai.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
KEYSTORE_MIGRATIONS_DIR = MIGRATIONS_DIR / "keystore"

TURN_WAIT_S = 1.0  # how long a session waits for its process's turn (Database._turn)


class _Turn:
    """One event loop's turn at a SQLite database: the lock and the task holding it."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.owner: asyncio.Task[Any] | None = None


class _Shared:
    """The connection of a :meth:`Database.one_transaction`, its database and its task."""

    def __init__(
        self, database: Database, connection: AsyncConnection, *, reads_only: bool = False
    ) -> None:
        self.database = database
        self.connection = connection
        self.task = asyncio.current_task()
        self.reads_only = reads_only  # Database.one_reading: sessions that write do not join
        self.held: dict[str, Any] = {}  # what its sessions read once for all (shared_reads)

    def serves(self, database: Database, *, writes: bool = False) -> bool:
        """Whether a session of ``database`` opened now joins this transaction (``writes``:
        a session that may write, which a reading transaction leaves to its own)."""
        mine = self.database is database and self.task is asyncio.current_task()
        return mine and not (writes and self.reads_only)


_SHARED: ContextVar[_Shared | None] = ContextVar("ovenai_one_transaction", default=None)
_HELD = "one_transaction_reads"


def shared_reads(session: AsyncSession) -> dict[str, Any] | None:
    """Where a session of a :meth:`Database.one_transaction` keeps what its sessions read
    once for all of them (one dict for the whole transaction, dropped at its end); None
    for a session outside one (a :meth:`Database.one_reading`'s too), which reads
    everything itself."""
    held: dict[str, Any] | None = session.info.get(_HELD)
    return held


class Database:
    """The process's engine, session factory and key store (the data layer's one handle)."""

    def __init__(self, url: str, ring: KeyRing, keystore_url: str, *, inline: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, inline=inline)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Sessions that only read (see reading): on SQLite they neither take the write lock
        # nor wait for this process's turn.
        self._reads_only = self.engine.execution_options(**{READS_ONLY: True})
        self._readers = async_sessionmaker(self._reads_only, expire_on_commit=False)
        self.vault = Vault(ring, keystore_url)
        self.erasure_journal: Path | None = None  # where erasures are journaled (privacy)
        # SQLite: one transaction at a time per process, in turn (see _turn).
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turn] = (
            weakref.WeakKeyDictionary()
        )

    async def start(self) -> None:
        """Load the keys the data layer needs; call once after migrations."""
        await self.vault.start()

    @property
    def dialect(self) -> dialects.Name:
        """`sqlite` or `postgresql`."""
        return dialects.name_of(self.engine.dialect)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose connection errors become ServiceUnavailable; inside
        :meth:`one_transaction` (in its task), one on that transaction's connection."""
        shared = _SHARED.get()
        if shared is not None and shared.serves(self, writes=True):
            async with self._joined(shared) as session:
                yield session
            return
        async with self._turn(), self._unavailable(), self.sessions() as session:
            yield session

    @asynccontextmanager
    async def _joined(self, shared: _Shared) -> AsyncIterator[AsyncSession]:
        """A session on a one_transaction's (or one_reading's) connection and transaction.

        Its commit only flushes; its close leaves the transaction alone, so an error a
        caller catches drops only what the session had not yet written (as its own
        rollback did before), and one that leaves the transaction rolls back the whole.
        """
        # Rows kept for the whole transaction (shared_reads) only where every session that
        # may change them joins it too: not in one_reading, whose writers have their own.
        held = {} if shared.reads_only else {_HELD: shared.held}
        joined = self.sessions(
            bind=shared.connection, join_transaction_mode="rollback_only", info=held
        )
        async with self._unavailable(), joined as session:
            yield session

    @asynccontextmanager
    async def one_transaction(self) -> AsyncIterator[None]:
        """Run every session this task opens inside as one transaction on one connection,
        committed at the end (rolled back on an error).

        For a page that calls many service functions, each owning its session: without it
        each takes a connection of its own from the pool (on PostgreSQL a ping, BEGIN and
        COMMIT or ROLLBACK beside its statements). A service's own commit inside only
        flushes, so what it writes (an audit entry, a seen mark) is committed with the rest,
        or not at all when the page fails. Other tasks (and tasks started inside) still get
        sessions of their own; nested calls join the outer one.
        """
        shared = _SHARED.get()
        if shared is not None and shared.serves(self, writes=True):
            yield
            return
        async with self._turn(), self._unavailable(), self.engine.connect() as connection:
            async with connection.begin():
                token = _SHARED.set(_Shared(self, connection))
                try:
                    yield
                finally:
                    _SHARED.reset(token)

    @asynccontextmanager
    async def one_reading(self) -> AsyncIterator[None]:
        """Run every reading session (:meth:`reading`) this task opens inside on one
        connection and one transaction: :meth:`one_transaction` for a page that only reads.

        On SQLite the transaction is ``BEGIN DEFERRED`` and takes no turn, as a reading
        session's: the page neither waits for the writer nor holds it up. A session that
        writes (:meth:`session`, a :meth:`one_transaction` inside) keeps a connection and
        transaction of its own, committed as before; on PostgreSQL the reads after it see
        what it committed, on SQLite only if it committed before this transaction's first
        read (a read transaction there keeps the state it first read), so a page writes
        before it reads (the inbox's phone search refreshes its tokens first).
        """
        shared = _SHARED.get()
        if shared is not None and shared.serves(self):
            yield
            return
        async with self._unavailable(), self._reads_only.connect() as connection:
            async with connection.begin():
                token = _SHARED.set(_Shared(self, connection, reads_only=True))
                try:
                    yield
                finally:
                    _SHARED.reset(token)

    @asynccontextmanager
    async def _unavailable(self) -> AsyncIterator[None]:
        """Connection errors raised inside become ServiceUnavailable."""
        try:
            yield
        except (OperationalError, DBAPIError) as exc:
            if exc.connection_invalidated or isinstance(exc, OperationalError):
                raise ServiceUnavailable("the database cannot be reached") from exc
            raise

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session that only reads (the pages' and reports' queries), its errors as in
        :meth:`session`.

        On SQLite it opens ``BEGIN DEFERRED`` (:data:`ovenai.engines.READS_ONLY`) and skips
        the turn: in WAL mode a reader sees the last commit and neither waits for the writer
        nor holds it up, so an agent's page does not queue behind the webhooks being applied
        (a page's many small reads each waited for a turn before). A statement that writes
        is refused there (:func:`ovenai.engines.create_engine`); on PostgreSQL it is an
        ordinary session. Inside :meth:`one_transaction` (in its task) it joins that
        transaction, as :meth:`session` does, and inside :meth:`one_reading` that one's. The
        one place reads could later be sent to a replica.
        """
        shared = _SHARED.get()
        if shared is not None and shared.serves(self):
            async with self._joined(shared) as session:
                yield session
            return
        async with self._unavailable(), self._readers() as session:
            yield session

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
        if dialects.is_postgresql(self.engine.dialect):
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


def open_database(settings: Settings, *, inline: bool = False) -> Database:
    """The database handle for these settings (master keys from OVENAI_ENCRYPTION_KEYS);
    ``inline``: on SQLite, data statements run on the event loop's thread, for a process
    that serves no page (``ovenai worker``; :mod:`ovenai.inline_sqlite`)."""
    ring = KeyRing.parse(settings.secret("encryption_keys"))
    assert settings.keystore_url is not None  # placed by load_settings
    database = Database(settings.database_url, ring, settings.keystore_url, inline=inline)
    database.erasure_journal = settings.erasure_journal or settings.data_dir / "erasures.journal"
    return database


def _alembic_config(url: str, directory: Path = MIGRATIONS_DIR) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(directory))
    config.attributes["database_url"] = sync_url(url)
    if dialects.of_url(url) == "sqlite":
        ensure_sqlite_dir(url)
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
