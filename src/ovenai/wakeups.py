"""Waking the worker's dispatcher when another process queued a message.

The dispatcher polls for due messages every ``poll_s`` (0.2 s). In its own process whoever
queues wakes it directly (the worker's webhook processor, after automation answered); but
serve queues messages too (an agent's reply, automation answering the webhooks serve
applies), and that poll was most of the time from a lead's message to the answer Meta
accepted (bench/README.md "Automation"). So:

- **PostgreSQL**: whoever queues calls :func:`announce` in its transaction (``pg_notify``,
  delivered at commit, folded into one per transaction); each worker keeps one connection
  that ``LISTEN``s (:func:`watch`) and wakes its dispatcher. A lost connection is made again
  after :data:`RECONNECT_S`; the poll stays, so a missed notification costs one poll at most.
- **SQLite** (one machine, no notifications): the worker reads ``PRAGMA data_version`` every
  :data:`SQLITE_LOOK_S` on a connection of its own; it changes when another connection
  commits, and the dispatcher looks then (most commits are webhooks stored, which cost it
  one query for due messages each).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects
from ovenai.engines import conninfo

log = logging.getLogger("ovenai.wakeups")

CHANNEL = "ovenai_wake"
RECONNECT_S = 2.0
LISTEN_TURN_S = 0.5
SQLITE_LOOK_S = 0.01


_NOTIFY = text(f"NOTIFY {CHANNEL}")


async def announce(session: AsyncSession) -> None:
    """Tell the workers, when this transaction commits, that a message was queued
    (PostgreSQL; on SQLite they see the commit by themselves)."""
    if dialects.is_postgresql(session):
        await session.execute(_NOTIFY)


async def watch(
    url: str, told: Callable[[str], None], stop: asyncio.Event, *, channel: str = CHANNEL
) -> None:
    """Until ``stop``, call ``told`` with each notification's payload on ``channel`` (by
    default: another process may have queued a message; :mod:`ovenai.live` watches its
    own), or with "" on SQLite, where any commit is news (``url``: the data database's)."""
    while not stop.is_set():
        try:
            if dialects.of_url(url) == "sqlite":
                await _watch_sqlite(url, lambda: told(""), stop)
            else:
                await _listen(url, channel, told, stop)
        except (psycopg.Error, sqlite3.Error, OSError) as exc:
            log.warning("wake-ups: the watching connection failed (%s); polls meanwhile", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RECONNECT_S)


async def _listen(url: str, channel: str, told: Callable[[str], None], stop: asyncio.Event) -> None:
    info = conninfo(url, connect_timeout="5")
    async with await psycopg.AsyncConnection.connect(info, autocommit=True) as conn:
        await conn.execute(f"LISTEN {channel}")
        while not stop.is_set():
            # Notifications arriving between two of these waits are kept by psycopg for
            # the next one; the wait ends now and then to see whether to stop.
            async for notification in conn.notifies(timeout=LISTEN_TURN_S):
                told(notification.payload)


async def _watch_sqlite(url: str, wake: Callable[[], None], stop: asyncio.Event) -> None:
    path = make_url(url).database or ""
    # timeout=0: a busy database answers at once (read again at the next look) instead of
    # holding the event loop for sqlite3's default 5 s.
    conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    try:
        seen = _data_version(conn)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SQLITE_LOOK_S)
            now = _data_version(conn)
            if now != seen:
                seen = now
                wake()
    finally:
        conn.close()


def _data_version(conn: sqlite3.Connection) -> int:
    """SQLite's count of commits by other connections, as this connection sees it."""
    try:
        row = conn.execute("PRAGMA data_version").fetchone()
    except sqlite3.Error:
        return -1  # busy or being replaced: the next look reads it again
    return int(row[0])
