"""The schema comes from migrations only, and goes both ways."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import create_engine, inspect, text

import ovenai.db
from ovenai.db import Database, downgrade, new_id, sync_url, upgrade
from ovenai.errors import ServiceUnavailable
from ovenai.models import Base
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
async def test_a_sqlite_transaction_that_cannot_get_its_turn_is_a_clear_error(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL transactions do not queue in the process")
    monkeypatch.setattr(ovenai.db, "BUSY_TIMEOUT_S", 0.05)
    async with db.session() as session:
        await session.execute(text("SELECT 1"))
        with pytest.raises(ServiceUnavailable, match="busy"):
            async with db.session():
                pass
