"""SQLite for a process whose event loop does the database work: no thread hop a call.

aiosqlite runs every call of a connection (open a cursor, execute, fetch, close, commit) in a
thread of its own and hands each result back to the event loop: about four round trips a
statement, each a queue put, a thread wake-up and a ``call_soon_threadsafe``. The webhook
processor issues a dozen statements a batch, and on SQLite its batches are kept short (the
acknowledgement writer waits for the write lock meanwhile): the round trips came to ~9 ms of
the batch's fixed cost on the 2-core box, more than the bodies themselves (bench/README.md
"Inbound at volume"). :class:`InlineConnection` has aiosqlite's shape, so SQLAlchemy's
``sqlite+aiosqlite`` dialect drives it unchanged (``async_creator``), and runs each call at
once on the calling thread.

Waiting for the write lock must not block the loop: the connection's busy timeout is 0 and
a statement SQLite refuses as busy is tried again every :data:`BUSY_POLL_S` with an
``await asyncio.sleep`` in between, until :data:`BUSY_TIMEOUT_S` (SQLite's own busy handler
would sleep the thread, here the loop, up to 100 ms at a time). Polling also takes the lock
at the first gap, as the acknowledgement writer does (:mod:`ovenai.ingest.receive.
batch_writer`).

For the worker (``ovenai worker``), whose loop runs the processor, the dispatcher and the
timed jobs and serves no page: a statement that takes long stalls that loop for its
duration. ``ovenai serve`` keeps aiosqlite, so that a long dashboard query never holds up
the acknowledgements on its loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

BUSY_POLL_S = 0.0005
BUSY_TIMEOUT_S = 10.0

T = TypeVar("T")


async def _when_free(call: Callable[[], T]) -> T:
    """``call()``, tried again while SQLite answers busy (another connection writes)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        await asyncio.sleep(BUSY_POLL_S)


class InlineCursor:
    """aiosqlite's cursor, run inline."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        if parameters is None:
            await _when_free(lambda: self._cursor.execute(sql))
        else:
            await _when_free(lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        rows = list(parameters)  # a retry must see them all again
        await _when_free(lambda: self._cursor.executemany(sql, rows))
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        if size is None:
            return self._cursor.fetchmany()
        return self._cursor.fetchmany(size)

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    @property
    def description(self) -> Sequence[Any] | None:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Queue:
    """What SQLAlchemy's adapter puts a call on to set ``isolation_level`` (aiosqlite's
    request queue, ``_tx``): here the call runs at once and settles its future."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting caller
            future.set_exception(exc)


class InlineConnection:
    """aiosqlite's connection, run inline (the attributes SQLAlchemy's adapter reads)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn
        self._tx = _Queue()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        await _when_free(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's forced terminate)."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def connector(database: str) -> Callable[[], Awaitable[Any]]:
    """The ``async_creator`` of an engine on ``database`` (a file path)."""

    async def connect() -> InlineConnection:
        conn = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        return InlineConnection(conn)

    return connect


def no_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    """Connect hook: SQLite answers busy at once, and :func:`_when_free` polls."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()
