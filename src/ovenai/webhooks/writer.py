"""The acknowledgement path's writer: one database connection in a thread of its own.

Why not the async engine: measured on the 2-core box, an INSERT through SQLAlchemy's async
engine costs four thread hops on aiosqlite (checkout, BEGIN IMMEDIATE, INSERT, COMMIT,
reset) plus per-row parameter processing, and capped the store at ~5,000 bodies/s with
the event loop starved. Here the event loop only hands a finished row to a queue; this
thread takes everything queued, writes it with one executemany and one COMMIT, and
settles the whole batch with one ``call_soon_threadsafe`` (group commit).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from ovenai.errors import ServiceUnavailable

log = logging.getLogger("ovenai.webhooks.writer")

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
        self.sqlite = parsed.get_backend_name() == "sqlite"
        self._url = parsed
        self._max_batch = max_batch
        self._queue: SimpleQueue[Job | None] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        placeholders = ", ".join(["?" if self.sqlite else "%s"] * len(COLUMNS))
        self._sql = f"INSERT INTO webhook_events ({', '.join(COLUMNS)}) VALUES ({placeholders})"

    def submit(self, job: Job) -> None:
        """Queue a row; its future is settled once the row is committed (or refused)."""
        if self._thread is None:
            self._start()
        self._queue.put(job)

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        if self._thread is not None:
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
        """Block for one job, then take whatever else is queued (up to a batch)."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                job = self._queue.get_nowait()
            except Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _write(self, conn: Any, batch: list[Job]) -> Any:
        try:
            conn = conn or self._connect()
            self._insert(conn, [job.row for job in batch])
        except Exception as exc:  # any driver or disk failure: Meta must retry (503)
            log.warning("storing %d webhook bodies failed: %s", len(batch), exc)
            _settle(batch, ServiceUnavailable("the database cannot store the webhook"))
            if conn is not None:
                _close_quietly(conn)
            return None
        _settle(batch, None)
        return conn

    def _insert(self, conn: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        if self.sqlite:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(self._sql, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(self._sql, rows)

    def _connect(self) -> Any:
        url = self._url
        if self.sqlite:
            conn = sqlite3.connect(
                url.database or "", isolation_level=None, check_same_thread=False
            )
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
                conn.execute(f"PRAGMA {pragma}")
            return conn
        args: dict[str, Any] = url.translate_connect_args(username="user", database="dbname")
        args.update({key: str(value) for key, value in url.query.items()})
        return psycopg.connect(autocommit=True, connect_timeout=5, **args)


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
