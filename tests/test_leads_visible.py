"""ovenai.leads.load_visible inside one transaction (a page calling many services): the lead
is read once for each actor, every check stays as strict, and a locking read reads again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from ovenai import auth, leads
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.errors import NotFound
from ovenai.lead_fields import LeadCreate, LeadUpdate
from ovenai.models import Role

pytestmark = pytest.mark.anyio
SYSTEM = Actor.system()


async def _agent(db: Database, email: str) -> Actor:
    user = await auth.create_user(db, email=email, role=Role.AGENT)
    return Actor(user_id=user.id, role=Role.AGENT, email=email)


async def _lead(db: Database, agent: Actor) -> str:
    data = LeadCreate(name="נועה כהן", phone="0501112299", assigned_agent_id=agent.user_id)
    return (await leads.create_lead(db, actor=SYSTEM, data=data)).id


@contextmanager
def _lead_reads(db: Database) -> Iterator[list[str]]:
    """The statements that read a lead's whole row by its id, while inside."""
    found: list[str] = []

    def sent(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        flat = " ".join(statement.split())
        if flat.startswith("SELECT leads.id, ") and "WHERE leads.id = " in flat:
            found.append(flat)

    event.listen(db.engine.sync_engine, "before_cursor_execute", sent)
    try:
        yield found
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", sent)


async def test_one_transaction_reads_a_lead_once_for_each_actor_and_refuses_as_before(
    db: Database,
) -> None:
    mine, other = await _agent(db, "dana@agency.co.il"), await _agent(db, "avi@agency.co.il")
    lead_id = await _lead(db, mine)
    with _lead_reads(db) as reads:
        async with db.one_transaction():
            for _ in range(3):
                assert (await leads.get_lead(db, actor=mine, lead_id=lead_id)).id == lead_id
            assert len(reads) == 1
            for _ in range(2):  # another agent's check is their own, and refuses each time
                with pytest.raises(NotFound):
                    await leads.get_lead(db, actor=other, lead_id=lead_id)
            assert len(reads) == 3
            admin = Actor(user_id=None, role=Role.ADMIN, email="boss@agency.co.il")
            await leads.get_lead(db, actor=admin, lead_id=lead_id)
            await leads.get_lead(db, actor=admin, lead_id=lead_id)
            assert len(reads) == 4
    with _lead_reads(db) as reads:  # outside one transaction each call reads
        await leads.get_lead(db, actor=mine, lead_id=lead_id)
        await leads.get_lead(db, actor=mine, lead_id=lead_id)
    assert len(reads) == 2


async def test_a_change_inside_one_transaction_is_read_by_the_calls_after_it(
    db: Database,
) -> None:
    mine = await _agent(db, "dana@agency.co.il")
    lead_id = await _lead(db, mine)
    async with db.one_transaction():
        before = await leads.get_lead(db, actor=mine, lead_id=lead_id)
        changes = LeadUpdate(name="נועה לוי")
        await leads.update_lead(db, actor=mine, lead_id=lead_id, changes=changes)
        after = await leads.get_lead(db, actor=mine, lead_id=lead_id)
    assert (before.name, after.name) == ("נועה כהן", "נועה לוי")
