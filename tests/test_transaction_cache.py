"""Values read once a transaction (``ovenai.transaction_cache``), on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.db import Database
from ovenai.models import Property
from ovenai.transaction_cache import on_commit, per_transaction

pytestmark = pytest.mark.anyio


async def _cities(session: AsyncSession) -> list[str]:
    return sorted(await session.scalars(select(Property.city)))


async def test_a_value_is_read_once_a_transaction_and_afresh_in_the_next(db: Database) -> None:
    reads: list[int] = []

    async def read(session: AsyncSession) -> list[str]:
        reads.append(1)
        return await _cities(session)

    async with db.session() as session:
        session.add(Property(title="a", city="חיפה"))
        await session.flush()
        first = await per_transaction(session, "cities", read)
        async with session.begin_nested():  # a hook's savepoint is the same transaction
            assert await per_transaction(session, "cities", read) is first
        assert first == ["חיפה"] and len(reads) == 1
        await session.commit()
        session.add(Property(title="b", city="עכו"))
        await session.flush()
        assert await per_transaction(session, "cities", read) == ["חיפה", "עכו"]
        assert len(reads) == 2
        # Another name is another value.
        assert await per_transaction(session, "other", read) == ["חיפה", "עכו"]
        assert len(reads) == 3


async def test_another_session_reads_its_own(db: Database) -> None:
    async def read(session: AsyncSession) -> list[str]:
        return await _cities(session)

    async with db.session() as session:
        assert await per_transaction(session, "cities", read) == []
    async with db.session() as session:
        session.add(Property(title="c", city="אילת"))
        await session.flush()
        assert await per_transaction(session, "cities", read) == ["אילת"]


async def test_work_on_commit_waits_for_the_commit_and_is_dropped_with_a_rollback(
    db: Database,
) -> None:
    done: list[str] = []
    async with db.session() as session:
        on_commit(session, lambda: done.append("before the first statement"))
        session.add(Property(title="a", city="חיפה"))
        await session.flush()
        on_commit(session, lambda: done.append("kept"))
        async with session.begin_nested():  # a savepoint released: stands with its parent
            on_commit(session, lambda: done.append("released"))
        savepoint = await session.begin_nested()
        on_commit(session, lambda: done.append("in a savepoint rolled back"))
        async with session.begin_nested():
            on_commit(session, lambda: done.append("inside that savepoint"))
        await savepoint.rollback()
        assert done == []  # nothing before the commit
        await session.commit()
        assert done == ["before the first statement", "kept", "released"]

        on_commit(session, lambda: done.append("rolled back"))
        session.add(Property(title="b", city="עכו"))
        await session.flush()
        await session.rollback()
        await session.commit()  # a new, empty transaction
    assert done == ["before the first statement", "kept", "released"]
