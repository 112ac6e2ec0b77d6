"""The acknowledgement path's writer: one database connection in a thread of its own.

Why not the async engine: measured on the 2-core box, an INSERT through SQLAlchemy's async
engine costs four thread hops on aiosqlite (checkout, BEGIN IMMEDIATE, INSERT, COMMIT,
reset) plus per-row parameter processing, and capped the store at ~5,000 bodies/s with
the event loop starved. Here the event loop gathers the rows its requests produce during
one turn and hands them to this thread as one list (one wake-up per turn, not per row);
the thread takes everything queued, writes it in one transaction and settles the whole
batch with one ``call_soon_threadsafe`` (group commit).

How a batch is written, chosen by measurement (bench/README.md "Webhooks"): on SQLite,
INSERTs of up to :data:`CHUNK_ROWS` rows each rather than ``executemany``, which releases
and re-takes the GIL around every row while the event loop wants it (13,300 vs 12,300
acknowledged/s, p99 11 vs 19 ms); on PostgreSQL, ``COPY`` (12,000/s, against 10,800 for
``executemany`` and 10,900 for multi-row INSERTs).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from ovenai import dialects
from ovenai.engines import conninfo
from ovenai.errors import ServiceUnavailable

log = logging.getLogger("ovenai.ingest.receive.batch_writer")

COLUMNS = (
    "id",
    "received_at",
    "key_bucket",
    "body_enc",
    "body_size",
    "headers",
    "status",
    "attempts",
)
BUSY_POLL_S = 0.0005
BUSY_TIMEOUT_S = 10.0
CHUNK_ROWS = 64
"""Rows per INSERT statement (64 x 8 parameters stays under SQLite's old 999 limit)."""


@dataclass(slots=True)
class Job:
    """One row to write and the future its request waits on."""

    row: tuple[Any, ...]
    done: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop


class BatchWriter:
    """Writes queued ``webhook_events`` rows in batches from a dedicated thread."""

    def __init__(self, url: str, *, max_batch: int = 512) -> None:
        parsed = make_url(url)
        self.sqlite = dialects.of_url(parsed) == "sqlite"
        self._url = parsed
        self._max_batch = max_batch
        self._queue: SimpleQueue[list[Job] | None] = SimpleQueue()
        self._gathering: dict[asyncio.AbstractEventLoop, list[Job]] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._row_sql = f"({', '.join(['?'] * len(COLUMNS))})"  # SQLite's INSERTs
        self._sql: dict[int, str] = {}
        self._copy = f"COPY webhook_events ({', '.join(COLUMNS)}) FROM STDIN"

    def submit(self, job: Job) -> None:
        """Queue a row (from its event loop); its future is settled once it is committed."""
        if self._thread is None:
            self._start()
        gathered = self._gathering.get(job.loop)
        if gathered is None:
            self._gathering[job.loop] = [job]
            job.loop.call_soon(self._hand_over, job.loop)
        else:
            gathered.append(job)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """At the end of the loop's turn: pass what its requests gathered to the thread."""
        jobs = self._gathering.pop(loop, None)
        if jobs:
            self._queue.put(jobs)

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        if self._thread is not None:
            for loop in list(self._gathering):
                self._hand_over(loop)
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="webhook-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        conn: Any = None
        while True:
            batch, stop = self._take()
            if batch:
                conn = self._write(conn, batch)
            if stop:
                break
        if conn is not None:
            conn.close()

    def _take(self) -> tuple[list[Job], bool]:
        """Block for the first rows, then take whatever else is queued (about a batch)."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = list(first)
        while len(batch) < self._max_batch:
            try:
                jobs = self._queue.get_nowait()
            except Empty:
                break
            if jobs is None:
                return batch, True
            batch.extend(jobs)
        return batch, False

    def _write(self, conn: Any, batch: list[Job]) -> Any:
        """Store a batch on the kept connection; when that one fails (the server closed it
        meanwhile: a restart, a failover, an idle timeout), once more on a fresh one. Only a
        fresh connection's failure answers 503 (Meta retries)."""
        rows = [job.row for job in batch]
        while True:
            kept = conn is not None
            try:
                conn = conn or self._connect()
                self._insert(conn, rows)
            except Exception as exc:  # any driver or disk failure
                if conn is not None:
                    _close_quietly(conn)
                conn = None
                if kept:
                    log.info("the kept database connection failed (%s); writing on a new one", exc)
                    continue
                log.warning("storing %d webhook bodies failed: %s", len(batch), exc)
                _settle(batch, ServiceUnavailable("the database cannot store the webhook"))
                return None
            _settle(batch, None)
            return conn

    def _insert(self, conn: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        if self.sqlite:
            _begin_immediate(conn)
            try:
                for chunk in _chunks(rows):
                    conn.execute(self._statement(len(chunk)), _flat(chunk))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return
        with conn.transaction(), conn.cursor() as cursor, cursor.copy(self._copy) as copy:
            for row in rows:
                copy.write_row(row)

    def _statement(self, rows: int) -> str:
        """The INSERT of ``rows`` rows (a power of two: few distinct statements to cache)."""
        sql = self._sql.get(rows)
        if sql is None:
            values = ", ".join([self._row_sql] * rows)
            sql = self._sql[rows] = (
                f"INSERT INTO webhook_events ({', '.join(COLUMNS)}) VALUES {values}"
            )
        return sql

    def _connect(self) -> Any:
        url = self._url
        if self.sqlite:
            conn = sqlite3.connect(
                url.database or "", isolation_level=None, check_same_thread=False
            )
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=0"):
                conn.execute(f"PRAGMA {pragma}")
            return conn
        return psycopg.connect(conninfo(url, connect_timeout="5"), autocommit=True)


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """Take SQLite's write lock, trying again every :data:`BUSY_POLL_S` while it is held.

    Not SQLite's busy timeout: its handler sleeps longer and longer between tries (up to
    100 ms), and a processor committing batch after batch took the lock back in between,
    so acknowledgements waited ~800 ms at p99 (measured). Polling finds the first gap.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(BUSY_POLL_S)


def _chunks(rows: Sequence[tuple[Any, ...]]) -> list[Sequence[tuple[Any, ...]]]:
    """Split rows into runs of power-of-two lengths, at most :data:`CHUNK_ROWS` each."""
    chunks = []
    start = 0
    while start < len(rows):
        size = min(CHUNK_ROWS, 1 << ((len(rows) - start).bit_length() - 1))
        chunks.append(rows[start : start + size])
        start += size
    return chunks


def _flat(rows: Sequence[tuple[Any, ...]]) -> list[Any]:
    return [value for row in rows for value in row]


def _settle(batch: list[Job], error: Exception | None) -> None:
    """Resolve every future of a batch on its loop, one cross-thread call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for job in batch:
        by_loop.setdefault(job.loop, []).append(job.done)
    for loop, futures in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, futures, error)
        except RuntimeError:  # that loop is closed: nobody waits any more
            pass


def _resolve(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except (sqlite3.Error, psycopg.Error):
        pass
