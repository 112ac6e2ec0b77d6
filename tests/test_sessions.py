"""Dashboard sessions as server-side records: started, resolved, ended, expired, pruned."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from ovenai import auth, sessions
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import NotFound
from ovenai.models import Role, User, UserSession

pytestmark = pytest.mark.anyio
PASSWORD = "a long enough password"


async def _user(db: Database, email: str, role: Role = Role.AGENT) -> Actor:
    user = await auth.create_user(db, email=email, role=role, password=PASSWORD)
    return Actor(user_id=user.id, role=role, email=user.email)


async def _start(db: Database, actor: Actor, agent: str = "Firefox") -> sessions.Started:
    return await sessions.start(db, actor=actor, address="10.0.0.1", user_agent=agent)


async def test_a_started_session_resolves_to_its_user_and_only_its_hash_is_stored(
    db: Database,
) -> None:
    rina = await _user(db, "rina@agency.co.il")
    started = await _start(db, rina)
    current = await sessions.resolve(db, secret=started.secret)
    assert current is not None
    assert current.actor.user_id == rina.user_id and current.session_id == started.id
    async with db.session() as session:
        row = await session.get(UserSession, started.id)
    assert row is not None and started.secret not in row.secret_hash
    assert await sessions.resolve(db, secret=started.secret + "x") is None


async def test_ending_a_session_refuses_its_secret_at_once(db: Database) -> None:
    rina = await _user(db, "rina@agency.co.il")
    started = await _start(db, rina)
    await sessions.end(db, secret=started.secret)
    assert await sessions.resolve(db, secret=started.secret) is None
    await sessions.end(db, secret=started.secret)  # twice is harmless


async def test_a_session_expires_after_its_lifetime(db: Database) -> None:
    rina = await _user(db, "rina@agency.co.il")
    started = await _start(db, rina)
    with time_machine.travel(utcnow() + sessions.LIFETIME - timedelta(minutes=1)):
        assert await sessions.resolve(db, secret=started.secret) is not None
    with time_machine.travel(utcnow() + sessions.LIFETIME + timedelta(seconds=1)):
        assert await sessions.resolve(db, secret=started.secret) is None
        assert await sessions.list_for(db, user_id=str(rina.user_id)) == []
        assert await sessions.prune(db) == 1


async def test_a_disabled_users_sessions_resolve_to_nothing(db: Database) -> None:
    rina = await _user(db, "rina@agency.co.il")
    started = await _start(db, rina)
    async with db.session() as session:
        user = await session.get(User, rina.user_id)
        assert user is not None
        user.is_active = False
        await session.commit()
    assert await sessions.resolve(db, secret=started.secret) is None


async def test_ending_all_keeps_only_the_named_session(db: Database) -> None:
    rina = await _user(db, "rina@agency.co.il")
    dana = await _user(db, "dana@agency.co.il")
    mine = [await _start(db, rina, agent) for agent in ("Firefox", "Chrome", "Safari")]
    theirs = await _start(db, dana)
    assert await sessions.end_all(db, user_id=str(rina.user_id), keep=mine[0].id) == 2
    alive = [await sessions.resolve(db, secret=s.secret) is not None for s in mine]
    assert alive == [True, False, False]
    assert await sessions.resolve(db, secret=theirs.secret) is not None


async def test_an_agent_ends_only_their_own_sessions_and_an_admin_anyones(db: Database) -> None:
    rina = await _user(db, "rina@agency.co.il")
    dana = await _user(db, "dana@agency.co.il")
    boss = await _user(db, "boss@agency.co.il", Role.ADMIN)
    theirs = await _start(db, dana)
    with pytest.raises(NotFound):
        await sessions.end_one(db, actor=rina, session_id=theirs.id)
    assert await sessions.resolve(db, secret=theirs.secret) is not None
    await sessions.end_one(db, actor=boss, session_id=theirs.id)
    assert await sessions.resolve(db, secret=theirs.secret) is None


async def test_last_seen_is_written_at_most_every_few_minutes(db: Database) -> None:
    rina = await _user(db, "rina@agency.co.il")
    started = await _start(db, rina)
    first = (await sessions.list_for(db, user_id=str(rina.user_id)))[0].last_seen_at
    with time_machine.travel(utcnow() + timedelta(minutes=1)):
        await sessions.resolve(db, secret=started.secret)
    assert (await sessions.list_for(db, user_id=str(rina.user_id)))[0].last_seen_at == first
    with time_machine.travel(utcnow() + sessions.SEEN_EVERY + timedelta(seconds=1)):
        await sessions.resolve(db, secret=started.secret)
    assert (await sessions.list_for(db, user_id=str(rina.user_id)))[0].last_seen_at > first


async def test_deleting_a_user_takes_their_sessions(db: Database) -> None:
    rina = await _user(db, "rina@agency.co.il")
    await _start(db, rina)
    async with db.session() as session:
        user = await session.get(User, rina.user_id)
        await session.delete(user)
        await session.commit()
        left = await session.scalar(select(func.count()).select_from(UserSession))
    assert left == 0
