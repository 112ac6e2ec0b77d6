"""The schema comes from migrations only, and goes both ways; sessions take turns on SQLite, and
one transaction can hold many sessions."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import create_engine, event, func, inspect, select, text

import ovenai.db
from ovenai import audit
from ovenai.auth import Actor
from ovenai.columns import new_id
from ovenai.db import Database, downgrade, upgrade
from ovenai.engines import sync_url
from ovenai.errors import NotFound
from ovenai.models import AuditEntry, Base, SystemFlag
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


async def _audit(db: Database, subject: str) -> None:
    """A service's own transaction: one audit entry, committed."""
    async with db.session() as session:
        audit.record(
            session, actor=Actor.system(), action="test", subject_type="t", subject_id=subject
        )
        await session.commit()


async def _entries(db: Database, subject: str) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(AuditEntry).where(AuditEntry.subject_id == subject)
        return int(await session.scalar(query) or 0)


@pytest.mark.anyio
async def test_one_transaction_runs_every_session_inside_on_one_connection(db: Database) -> None:
    subject = new_id()
    taken: list[object] = []

    def took(*_args: object) -> None:
        taken.append(_args)

    event.listen(db.engine.sync_engine.pool, "checkout", took)
    try:
        async with db.one_transaction():
            for _ in range(3):
                await _audit(db, subject)  # each commits: only a flush inside
            async with db.session() as session:  # the same transaction sees them
                count = select(func.count()).select_from(AuditEntry)
                assert await session.scalar(count.where(AuditEntry.subject_id == subject)) == 3
            async with db.one_transaction():  # nested: joins the outer one
                await _audit(db, subject)
    finally:
        event.remove(db.engine.sync_engine.pool, "checkout", took)
    assert len(taken) == 1
    assert await _entries(db, subject) == 4  # committed at the end


@pytest.mark.anyio
async def test_one_transaction_is_committed_at_its_end_and_not_before(db: Database) -> None:
    if db.dialect == "sqlite":
        pytest.skip("a second SQLite connection would wait for the write lock the first holds")
    subject = new_id()
    seen: list[int] = []

    async def elsewhere() -> None:  # another task: a connection and transaction of its own
        seen.append(await _entries(db, subject))

    async with db.one_transaction():
        await _audit(db, subject)
        await asyncio.create_task(elsewhere())
    seen.append(await _entries(db, subject))
    assert seen == [0, 1]


@pytest.mark.anyio
async def test_an_error_inside_one_transaction_rolls_back_what_its_sessions_committed(
    db: Database,
) -> None:
    subject = new_id()
    with pytest.raises(NotFound):
        async with db.one_transaction():
            await _audit(db, subject)
            async with db.session():
                raise NotFound("the page fails after its seen mark and audit entry")
    assert await _entries(db, subject) == 0
    await _audit(db, subject)  # the connection went back to the pool clean
    assert await _entries(db, subject) == 1


@pytest.mark.anyio
async def test_an_error_caught_inside_one_transaction_leaves_what_the_others_wrote(
    db: Database,
) -> None:
    before, after = new_id(), new_id()
    async with db.one_transaction():
        await _audit(db, before)
        with pytest.raises(NotFound):
            async with db.session() as session:
                audit.record(session, actor=Actor.system(), action="t", subject_type="t")
                raise NotFound("a service refuses before writing; its caller goes on")
        await _audit(db, after)
    assert (await _entries(db, before), await _entries(db, after)) == (1, 1)
    async with db.session() as session:  # the refusing service's entry was never written
        assert await session.scalar(select(func.count()).where(AuditEntry.action == "t")) == 0


@pytest.mark.anyio
async def test_a_reading_session_inside_one_transaction_joins_it(db: Database) -> None:
    """A page in one transaction reads what its own services wrote, on its one connection."""
    async with db.one_transaction():
        async with db.session() as session:
            session.add(SystemFlag(name="probe-joined", value="1"))
            await session.commit()  # only flushed: the transaction is one_transaction's
        async with db.reading() as session:
            names = list(await session.scalars(select(SystemFlag.name)))
        assert names == ["probe-joined"]
    async with db.reading() as session:
        assert list(await session.scalars(select(SystemFlag.name))) == ["probe-joined"]


@pytest.mark.anyio
async def test_one_reading_runs_every_reading_session_on_one_connection(db: Database) -> None:
    """A page that only reads: its reading sessions share one connection and transaction;
    a session that writes inside keeps its own, committed as before, and the reads after
    it see what it wrote."""
    taken: list[object] = []

    def took(*_args: object) -> None:
        taken.append(_args)

    subject = new_id()
    event.listen(db.engine.sync_engine.pool, "checkout", took)
    try:
        async with db.one_reading():
            await _audit(db, subject)  # a write of its own: a connection of its own
            assert len(taken) == 2
            for _ in range(3):
                async with db.reading() as session:
                    count = select(func.count()).select_from(AuditEntry)
                    assert await session.scalar(count.where(AuditEntry.subject_id == subject)) == 1
            async with db.one_reading():  # nested: joins the outer one
                async with db.reading() as session:
                    await session.scalar(select(func.count()).select_from(AuditEntry))
    finally:
        event.remove(db.engine.sync_engine.pool, "checkout", took)
    assert len(taken) == 2
    assert await _entries(db, subject) == 1


@pytest.mark.anyio
async def test_one_reading_does_not_wait_for_the_writer_on_sqlite(db: Database) -> None:
    """Its transaction is a reading one: on SQLite it takes neither the process's turn nor
    the write lock, so a page reads while another task holds a write transaction open."""
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL readers never wait for writers")
    writing, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with db.session() as session:
            session.add(SystemFlag(name="probe-held", value="1"))
            await session.flush()
            writing.set()
            await release.wait()
            await session.commit()

    async def reader() -> list[str]:
        async with db.one_reading():
            async with db.reading() as session:
                return list(await session.scalars(select(SystemFlag.name)))

    held = asyncio.create_task(writer())
    await writing.wait()
    read = asyncio.create_task(reader())
    done, _ = await asyncio.wait({read}, timeout=5)
    release.set()
    await held
    assert read in done and read.result() == []
