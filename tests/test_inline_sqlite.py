"""The worker's SQLite connections run their statements on the event loop's thread: waiting
for another process's write lock must leave the loop free, take the lock at once when it is
released, and give up with a clear error after the busy timeout."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from ovenai import inline_sqlite
from ovenai.engines import create_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = create_engine(f"sqlite:///{tmp_path / 'inline.db'}", inline=True)
    async with made.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    yield made
    await made.dispose()


def other_process(path: Path) -> sqlite3.Connection:
    """A connection as another process holds one: its own, aiosqlite or not."""
    return sqlite3.connect(path, isolation_level=None)


@pytest.mark.anyio
async def test_statements_run_and_transactions_commit_or_roll_back(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO notes (body) VALUES ('kept')"))
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO notes (body) VALUES ('rolled back')"))
        await conn.rollback()
    async with engine.connect() as conn:
        nested = await conn.begin()
        await conn.execute(text("INSERT INTO notes (body) VALUES ('outer')"))
        savepoint = await conn.begin_nested()
        await conn.execute(text("INSERT INTO notes (body) VALUES ('inner')"))
        await savepoint.rollback()
        await nested.commit()
        rows = (await conn.execute(text("SELECT body FROM notes ORDER BY id"))).scalars().all()
    assert rows == ["kept", "outer"]


@pytest.mark.anyio
async def test_waiting_for_the_write_lock_leaves_the_loop_free(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    holder = other_process(tmp_path / "inline.db")
    holder.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO notes (body) VALUES ('after the lock')"))

    ticker = asyncio.create_task(tick())
    writer = asyncio.create_task(write())
    await asyncio.sleep(0.2)
    assert not writer.done()  # still waiting for the lock ...
    assert ticks > 20  # ... and the loop ran meanwhile
    holder.execute("COMMIT")
    await asyncio.wait_for(writer, 1.0)  # taken at the first poll after the release
    ticker.cancel()
    holder.close()
    found = other_process(tmp_path / "inline.db").execute("SELECT body FROM notes").fetchall()
    assert found == [("after the lock",)]


@pytest.mark.anyio
async def test_a_lock_held_past_the_busy_timeout_is_an_error(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inline_sqlite, "BUSY_TIMEOUT_S", 0.05)
    holder = other_process(tmp_path / "inline.db")
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO notes (body) VALUES ('never')"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.anyio
async def test_other_errors_are_not_retried(engine: AsyncEngine) -> None:
    with pytest.raises(OperationalError, match="no such table"):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM missing"))
