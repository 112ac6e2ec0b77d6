"""What differs between the two databases, asked of :mod:`ovenai.dialects`."""

from __future__ import annotations

import pytest
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
