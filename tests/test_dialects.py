"""What differs between the two databases, asked of :mod:`ovenai.dialects`."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import text

from ovenai import dialects
from ovenai.db import Database

pytestmark = pytest.mark.anyio


async def test_a_transaction_planned_with_values_plans_each_statement_until_it_ends(
    db: Database,
) -> None:
    async with db.session() as session:
        await dialects.plan_with_values(session)
        if not dialects.is_postgresql(session):
            assert await session.scalar(text("SELECT 1")) == 1  # nothing to set on SQLite
            return
        assert await session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
        await session.commit()
    async with db.session() as session:  # SET LOCAL: the next transaction plans as before
        assert await session.scalar(text("SHOW plan_cache_mode")) == "auto"


@pytest.mark.parametrize("size", [0, 1, 7, 60])
async def test_one_of_and_none_of_pick_the_rows_in_and_out_of_a_list(
    db: Database, size: int
) -> None:
    async with db.session() as session:
        await session.execute(text("CREATE TEMPORARY TABLE picked (id VARCHAR(8) PRIMARY KEY)"))
        await session.execute(
            text("INSERT INTO picked VALUES (:id)"), [{"id": f"r{n}"} for n in range(80)]
        )
        table = sa.table("picked", sa.column("id", sa.String(8)))
        wanted = [f"r{n}" for n in range(0, 2 * size, 2)] + ["absent"]
        among = await session.scalars(
            sa.select(table.c.id).where(dialects.one_of(session, table.c.id, wanted))
        )
        outside = await session.scalars(
            sa.select(table.c.id).where(dialects.none_of(session, table.c.id, wanted))
        )
        assert set(among) == {f"r{n}" for n in range(0, min(2 * size, 80), 2)}
        assert set(outside) == {f"r{n}" for n in range(80)} - set(wanted)


async def test_on_postgresql_a_list_keeps_one_statement_text_whatever_its_length(
    db: Database,
) -> None:
    async with db.session() as session:
        column = sa.column("id", sa.String(8))
        texts = {
            str(
                sa.select(column)
                .where(dialects.one_of(session, column, values))
                .compile(session.get_bind(), compile_kwargs={"render_postcompile": True})
            )
            for values in (["a"], ["a", "b", "c"], [f"v{n}" for n in range(90)])
        }
    assert len(texts) == (1 if dialects.is_postgresql(db.engine.dialect) else 3)
