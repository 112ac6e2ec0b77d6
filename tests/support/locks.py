"""Waiting, in a test, until PostgreSQL sessions queue for a row lock another holds.

Two transactions made to meet on one row: a third connection locks the row, each starts
and is seen waiting (``pg_stat_activity``), then the lock is given up and they run in the
order they queued."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from ovenai.db import Database


async def waiting_for_a_lock(db: Database) -> int:
    """How many of this database's sessions wait for a lock now (PostgreSQL)."""
    async with db.engine.connect() as connection:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(await connection.scalar(query) or 0)


async def until_waiting(db: Database, count: int) -> None:
    """Return once ``count`` sessions wait for a lock (fail after about five seconds)."""
    for _ in range(500):
        if await waiting_for_a_lock(db) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} session(s) never waited for the row's lock")
