"""Running accounts: who may do what, and that each change ends what it must at once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ovenai import accounts, auth, sessions, signin
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TooManyRequests,
)
from ovenai.models import AuditEntry, Role

pytestmark = pytest.mark.anyio
PASSWORD = "a long enough password"
NEW_PASSWORD = "another long passphrase"


async def _user(db: Database, email: str, role: Role = Role.AGENT) -> Actor:
    user = await auth.create_user(db, email=email, role=role, password=PASSWORD)
    return Actor(user_id=user.id, role=role, email=user.email)


async def _browser(db: Database, actor: Actor) -> sessions.Started:
    return await sessions.start(db, actor=actor, address="10.0.0.1", user_agent="Firefox")


async def _alive(db: Database, started: sessions.Started) -> bool:
    return await sessions.resolve(db, secret=started.secret) is not None


def _id(actor: Actor) -> str:
    assert actor.user_id is not None
    return actor.user_id


async def test_only_admins_list_and_change_accounts(db: Database) -> None:
    boss = await _user(db, "boss@agency.co.il", Role.ADMIN)
    rina = await _user(db, "rina@agency.co.il")
    listed = await accounts.list_accounts(db, actor=boss)
    assert [(a.email, a.role, a.active, a.has_password) for a in listed] == [
        ("boss@agency.co.il", Role.ADMIN, True, True),
        ("rina@agency.co.il", Role.AGENT, True, True),
    ]
    with pytest.raises(PermissionDenied):
        await accounts.list_accounts(db, actor=rina)
    with pytest.raises(PermissionDenied):
        await accounts.set_active(db, actor=rina, user_id=_id(boss), active=False)
    with pytest.raises(NotFound):  # another user's account is not revealed to an agent
        await accounts.get_account(db, actor=rina, user_id=_id(boss))
    assert (await accounts.get_account(db, actor=rina, user_id=_id(rina))).email == rina.email


async def test_disabling_ends_sessions_and_tokens_and_enabling_restores_sign_in(
    db: Database,
) -> None:
    boss = await _user(db, "boss@agency.co.il", Role.ADMIN)
    rina = await _user(db, "rina@agency.co.il")
    browser = await _browser(db, rina)
    token = (await auth.create_token(db, email=rina.email)).token
    account = await accounts.set_active(db, actor=boss, user_id=_id(rina), active=False)
    assert not account.active and account.sessions == 0
    assert not await _alive(db, browser)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate_token(db, token=token)
    with pytest.raises(AuthenticationFailed):
        await signin.sign_in(db, email=rina.email, password=PASSWORD, address="10.0.0.1")
    await accounts.set_active(db, actor=boss, user_id=_id(rina), active=True)
    assert (await auth.authenticate_token(db, token=token)).email == rina.email
    signed = await signin.sign_in(db, email=rina.email, password=PASSWORD, address="10.0.0.1")
    assert signed.user_id == rina.user_id


async def test_the_last_active_admin_and_oneself_cannot_be_disabled(db: Database) -> None:
    boss = await _user(db, "boss@agency.co.il", Role.ADMIN)
    with pytest.raises(Conflict, match="yourself"):
        await accounts.set_active(db, actor=boss, user_id=_id(boss), active=False)
    with pytest.raises(Conflict, match="last active admin"):
        await accounts.set_active(db, actor=Actor.system(), user_id=_id(boss), active=False)
    deputy = await _user(db, "deputy@agency.co.il", Role.ADMIN)
    await accounts.set_active(db, actor=deputy, user_id=_id(boss), active=False)
    assert not (await accounts.get_account(db, actor=deputy, user_id=_id(boss))).active


async def test_an_admin_reset_ends_every_session_and_lifts_the_lock(db: Database) -> None:
    boss = await _user(db, "boss@agency.co.il", Role.ADMIN)
    rina = await _user(db, "rina@agency.co.il")
    browsers = [await _browser(db, rina), await _browser(db, rina)]
    for n in range(signin.MAX_FAILURES_PER_EMAIL):
        with pytest.raises(AuthenticationFailed):
            await signin.sign_in(db, email=rina.email, password="wrong!", address=f"10.1.0.{n}")
    assert (await accounts.get_account(db, actor=boss, user_id=_id(rina))).locked
    assert await accounts.reset_password(db, actor=boss, user_id=_id(rina), password=NEW_PASSWORD)
    assert [await _alive(db, b) for b in browsers] == [False, False]
    assert not (await accounts.get_account(db, actor=boss, user_id=_id(rina))).locked
    with pytest.raises(AuthenticationFailed):
        await signin.sign_in(db, email=rina.email, password=PASSWORD, address="10.0.0.1")
    await signin.sign_in(db, email=rina.email, password=NEW_PASSWORD, address="10.0.0.1")


async def test_changing_ones_password_ends_the_other_sessions_only(db: Database) -> None:
    rina = await _user(db, "rina@agency.co.il")
    here, there = await _browser(db, rina), await _browser(db, rina)
    ended = await accounts.change_password(
        db, actor=rina, current=PASSWORD, new=NEW_PASSWORD, keep_session=here.id
    )
    assert ended == 1
    assert await _alive(db, here) and not await _alive(db, there)
    await signin.sign_in(db, email=rina.email, password=NEW_PASSWORD, address="10.0.0.1")


async def test_a_password_change_needs_the_current_password_and_guessing_it_is_throttled(
    db: Database,
) -> None:
    rina = await _user(db, "rina@agency.co.il")
    for _ in range(signin.MAX_FAILURES_PER_EMAIL_AND_ADDRESS):
        with pytest.raises(AuthenticationFailed):
            await accounts.change_password(
                db, actor=rina, current="a wrong guess", new=NEW_PASSWORD, keep_session=None
            )
    with pytest.raises(TooManyRequests):
        await accounts.change_password(
            db, actor=rina, current=PASSWORD, new=NEW_PASSWORD, keep_session=None
        )
    await signin.sign_in(db, email=rina.email, password=PASSWORD, address="10.0.0.1")


async def test_a_weak_new_password_is_refused_and_nothing_changes(db: Database) -> None:
    rina = await _user(db, "rina@agency.co.il")
    here = await _browser(db, rina)
    for weak in ("password123", "rina@agency.co.il", "short"):
        with pytest.raises(InvalidInput) as refused:
            await accounts.change_password(
                db, actor=rina, current=PASSWORD, new=weak, keep_session=None
            )
        assert refused.value.field == "password"
    assert await _alive(db, here)
    await signin.sign_in(db, email=rina.email, password=PASSWORD, address="10.0.0.1")


async def test_a_user_signs_out_everywhere_else_and_an_agent_cannot_for_another(
    db: Database,
) -> None:
    rina = await _user(db, "rina@agency.co.il")
    dana = await _user(db, "dana@agency.co.il")
    here, there = await _browser(db, rina), await _browser(db, rina)
    theirs = await _browser(db, dana)
    with pytest.raises(NotFound):
        await accounts.sign_out_everywhere(db, actor=rina, user_id=_id(dana))
    assert (
        await accounts.sign_out_everywhere(db, actor=rina, user_id=_id(rina), keep_session=here.id)
        == 1
    )
    assert [await _alive(db, s) for s in (here, there, theirs)] == [True, False, True]


async def test_every_account_change_is_audited(db: Database) -> None:
    boss = await _user(db, "boss@agency.co.il", Role.ADMIN)
    rina = await _user(db, "rina@agency.co.il")
    await accounts.set_active(db, actor=boss, user_id=_id(rina), active=False)
    await accounts.set_active(db, actor=boss, user_id=_id(rina), active=True)
    await accounts.unlock(db, actor=boss, user_id=_id(rina))
    await accounts.reset_password(db, actor=boss, user_id=_id(rina), password=NEW_PASSWORD)
    await accounts.sign_out_everywhere(db, actor=boss, user_id=_id(rina))
    async with db.session() as session:
        rows = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.actor_label)
                .where(AuditEntry.subject_id == rina.user_id)
                .order_by(AuditEntry.at, AuditEntry.id)
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("user_disabled", boss.email),
        ("user_enabled", boss.email),
        ("user_unlocked", boss.email),
        ("password_reset", boss.email),
        ("signed_out_everywhere", boss.email),
    ]
