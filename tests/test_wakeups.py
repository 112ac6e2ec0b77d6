"""The worker's dispatcher is woken when another process queues a message: PostgreSQL's
NOTIFY at commit, SQLite's data_version."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from ovenai import dialects, wakeups
from ovenai.db import Database

pytestmark = pytest.mark.anyio
SOON_S = 5.0  # how long a wake may take here before the test calls it lost


@contextlib.asynccontextmanager
async def watching(db: Database) -> AsyncIterator[asyncio.Event]:
    """A running watch; the event is set on each wake (the test clears it)."""
    woken, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(wakeups.watch(db.url, lambda _payload: woken.set(), stop))
    await asyncio.sleep(0.3)  # listening (or its first data_version read) before we write
    woken.clear()
    try:
        yield woken
    finally:
        stop.set()
        await asyncio.wait_for(task, SOON_S)


async def _wakes(woken: asyncio.Event) -> bool:
    try:
        await asyncio.wait_for(woken.wait(), SOON_S)
    except TimeoutError:
        return False
    return True


async def test_a_committed_queueing_wakes_the_watcher_and_a_rolled_back_one_does_not(
    db: Database,
) -> None:
    async with watching(db) as woken:
        if dialects.name_of(db.dialect) == "postgresql":
            async with db.session() as session:
                await wakeups.announce(session)
                await session.rollback()
            await asyncio.sleep(0.5)
            assert not woken.is_set()  # a rolled-back NOTIFY is never delivered
        async with db.session() as session:
            await session.execute(text("CREATE TABLE IF NOT EXISTS wake_probe (n INTEGER)"))
            await session.execute(text("INSERT INTO wake_probe VALUES (1)"))
            await wakeups.announce(session)
            await session.commit()
        assert await _wakes(woken)


async def test_without_a_write_nothing_wakes_and_stop_ends_the_watch(db: Database) -> None:
    async with watching(db) as woken:
        async with db.session() as session:  # a read commits nothing
            assert await session.scalar(text("SELECT 1")) == 1
        await asyncio.sleep(0.5)
        assert not woken.is_set()
