"""The schema comes from migrations only, and goes both ways."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import create_engine, func, inspect, select, text

import ovenai.db
from ovenai.columns import new_id
from ovenai.db import Database, downgrade, upgrade
from ovenai.engines import sync_url
from ovenai.models import Base, SystemFlag
from ovenai.settings import Settings


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    return names - {"alembic_version"}


def test_migrations_create_exactly_the_models_tables(settings: Settings) -> None:
    assert _tables(settings.database_url) == set(Base.metadata.tables)


def test_migrations_go_down_to_nothing_and_up_again(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    downgrade(url, "base")
    assert _tables(url) == set()
    upgrade(url)
    assert _tables(url) == set(Base.metadata.tables)


def test_ids_are_time_ordered_uuid7() -> None:
    ids = [new_id() for _ in range(1000)]
    assert all(value[14] == "7" for value in ids)
    assert len(set(ids)) == 1000
    assert ids[0] < ids[-1]


@pytest.mark.anyio
async def test_sqlite_transactions_of_one_process_take_turns_first_come_first_served(
    db: Database,
) -> None:
    order: list[str] = []
    first_inside = asyncio.Event()

    async def transaction(name: str, hold: asyncio.Event | None = None) -> None:
        async with db.session() as session:
            await session.execute(text("SELECT 1"))
            order.append(name)
            if hold is not None:
                first_inside.set()
                await hold.wait()

    release = asyncio.Event()
    holder = asyncio.create_task(transaction("first", release))
    await first_inside.wait()
    waiters = []
    for name in ("second", "third", "fourth"):
        waiters.append(asyncio.create_task(transaction(name)))
        await asyncio.sleep(0.01)  # each queues behind the ones before it
    release.set()
    await asyncio.gather(holder, *waiters)
    if db.dialect == "sqlite":
        assert order == ["first", "second", "third", "fourth"]
    else:  # PostgreSQL reads do not wait for each other: any order, all of them
        assert sorted(order) == ["first", "fourth", "second", "third"]


@pytest.mark.anyio
async def test_a_session_opened_inside_another_of_the_same_task_does_not_wait(
    db: Database,
) -> None:
    async with db.session() as outer:
        async with db.session() as inner:  # a service function called with a session open
            assert await inner.scalar(text("SELECT 1")) == 1
        assert await outer.scalar(text("SELECT 2")) == 2


@pytest.mark.anyio
async def test_a_session_that_waited_too_long_for_its_turn_goes_on_to_sqlites_locking(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL sessions do not queue in the process")
    monkeypatch.setattr(ovenai.db, "TURN_WAIT_S", 0.05)
    holding = asyncio.Event()
    release = asyncio.Event()
    events: list[str] = []

    async def holder() -> None:
        async with db.session() as session:
            await session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock
            holding.set()
            await release.wait()
            events.append("holder done")

    async def latecomer() -> None:
        async with db.session() as session:
            await session.execute(text("SELECT 1"))  # waits in SQLite's busy handler
            events.append("latecomer ran")

    held = asyncio.create_task(holder())
    await holding.wait()
    late = asyncio.create_task(latecomer())
    await asyncio.sleep(0.2)  # past the turn wait: waiting on SQLite now, not refused
    assert not late.done()
    release.set()
    await asyncio.gather(held, late)
    assert events == ["holder done", "latecomer ran"]


@pytest.mark.anyio
async def test_a_reading_session_sees_the_last_commit_while_a_writer_holds_the_lock(
    db: Database,
) -> None:
    """An agent's page reads while the webhooks are being applied: it neither waits for
    the writer's turn nor for SQLite's write lock, and sees what was committed."""
    async with db.session() as session:
        session.add(SystemFlag(name="probe-1", value="1"))
        await session.commit()
    writing = asyncio.Event()
    release = asyncio.Event()
    events: list[str] = []

    async def writer() -> None:
        async with db.session() as session:
            session.add(SystemFlag(name="probe-2", value="2"))
            await session.flush()  # written, not committed
            writing.set()
            await release.wait()
            await session.commit()
            events.append("writer committed")

    async def reader() -> list[str]:
        async with db.reading() as session:
            names = list(await session.scalars(select(SystemFlag.name)))
        events.append("reader read")
        return names

    held = asyncio.create_task(writer())
    await writing.wait()
    read = asyncio.create_task(reader())
    done, _ = await asyncio.wait({read}, timeout=30)  # the old way: the turn, then the lock
    release.set()
    await held
    assert read in done
    assert read.result() == ["probe-1"]  # the committed row only
    assert events == ["reader read", "writer committed"]


@pytest.mark.anyio
async def test_a_reading_session_refuses_a_write_on_sqlite(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL sessions of either kind may write")
    with pytest.raises(RuntimeError, match="a reading session may not write"):
        async with db.reading() as session:
            session.add(SystemFlag(name="probe", value="1"))
            await session.flush()
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(SystemFlag)) == 0
