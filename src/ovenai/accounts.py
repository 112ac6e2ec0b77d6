"""Running the people who sign in: list, create, disable and enable, passwords, unlocking,
sessions, and each user's dashboard language.

Admins run every account; a user runs their own password and sessions. Whatever ends a
user's right to a session ends the sessions themselves at once (:mod:`ovenai.sessions`):
disabling (API tokens stop too: they check the user is active), an admin's password reset
and "sign out everywhere" end all of them, a user's own password change all but the
browser that made it. Every change is audited. The last active admin cannot be disabled,
and nobody disables themselves, so the agency is never left without anyone to run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import audit, auth, password_policy, sessions, signin
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ovenai.models import Language, Role, User, UserSession

# The refusals a page shows, one fixed sentence each: the dashboard finds its translation
# by the message.
CANNOT_DISABLE_SELF = "you cannot disable yourself; ask another admin"
LAST_ADMIN = "this is the last active admin; enable another admin first"
SAME_PASSWORD = "the new password is the current one"


@dataclass(frozen=True)
class Account:
    """A user as an admin sees them (never the password hash)."""

    id: str
    email: str
    display_name: str
    role: Role
    active: bool
    has_password: bool
    locked: bool
    sessions: int
    created_at: datetime


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only admins may run accounts")


def _require_self_or_admin(actor: Actor, user_id: str) -> None:
    if not actor.is_admin and actor.user_id != user_id:
        raise NotFound(f"no user {user_id}")  # another user's account is not revealed


async def _accounts(db: Database, users: list[User]) -> list[Account]:
    ids = [user.id for user in users]
    live = (
        select(UserSession.user_id, func.count())
        .where(UserSession.user_id.in_(ids), UserSession.expires_at > utcnow())
        .group_by(UserSession.user_id)
    )
    async with db.reading() as session:
        counts: dict[str, int] = {uid: n for uid, n in (await session.execute(live)).all()}
    locked = await signin.locked(db, emails=[user.email for user in users])
    return [
        Account(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=Role(user.role),
            active=user.is_active,
            has_password=user.password_hash is not None,
            locked=user.email in locked,
            sessions=counts.get(user.id, 0),
            created_at=user.created_at,
        )
        for user in users
    ]


async def list_accounts(db: Database, *, actor: Actor) -> list[Account]:
    """Every user, admins first, then by e-mail; admins only."""
    _require_admin(actor)
    async with db.reading() as session:
        users = list((await session.scalars(select(User).order_by(User.role, User.email))).all())
    return await _accounts(db, users)


async def active_emails(db: Database, *, actor: Actor) -> list[tuple[str, str]]:
    """The id and e-mail of every active user, in :func:`list_accounts`' order (admins
    first, then by e-mail), in one query: what a lead's assignee list offers; admins only."""
    _require_admin(actor)
    query = (
        select(User.id, User.email).where(User.is_active.is_(True)).order_by(User.role, User.email)
    )
    async with db.reading() as session:
        return [(user_id, email) for user_id, email in (await session.execute(query)).all()]


async def get_account(db: Database, *, actor: Actor, user_id: str) -> Account:
    """One user: an admin may read anyone, a user themselves; NotFound otherwise."""
    _require_self_or_admin(actor, user_id)
    async with db.reading() as session:
        user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return (await _accounts(db, [user]))[0]


async def user_id_for(db: Database, *, email: str) -> str:
    """The id of the user with this e-mail (for the CLI, which names users by e-mail)."""
    return (await auth.get_user_by_email(db, email=email)).id


async def create(
    db: Database, *, actor: Actor, email: str, role: Role, password: str, display_name: str = ""
) -> Account:
    """An admin adds a user who signs in with this password."""
    _require_admin(actor)
    user = await auth.create_user(
        db, email=email, role=role, password=password, display_name=display_name
    )
    await audit_change(db, actor, "user_created", user.id, {"role": role.value})
    return await get_account(db, actor=actor, user_id=user.id)


async def audit_change(
    db: Database, actor: Actor, action: str, user_id: str, details: dict[str, object] | None = None
) -> None:
    """Write one account change to the audit log."""
    async with db.session() as session:
        audit.record(
            session,
            actor=actor,
            action=action,
            subject_type="user",
            subject_id=user_id,
            details=details,
        )
        await session.commit()


async def _load(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


async def set_active(db: Database, *, actor: Actor, user_id: str, active: bool) -> Account:
    """Enable or disable a user; disabling ends their sessions and stops their API tokens."""
    _require_admin(actor)
    async with db.session() as session:
        user = await _load(session, user_id)
        if not active:
            if user.id == actor.user_id:
                raise Conflict(CANNOT_DISABLE_SELF)
            if user.role == Role.ADMIN and user.is_active:
                admins = select(func.count()).where(User.role == Role.ADMIN, User.is_active)
                if (await session.scalar(admins) or 0) <= 1:
                    raise Conflict(LAST_ADMIN)
        user.is_active = active
        action = "user_enabled" if active else "user_disabled"
        audit.record(session, actor=actor, action=action, subject_type="user", subject_id=user.id)
        await session.commit()
    if not active:
        await sessions.end_all(db, user_id=user_id)
    return await get_account(db, actor=actor, user_id=user_id)


async def _set_password(db: Database, user_id: str, password: str) -> str:
    """Check the policy, hash off the event loop and store; the user's e-mail."""
    async with db.session() as session:
        user = await _load(session, user_id)
        email = user.email
    password_policy.check(password, email=email)
    hashed = await auth.hash_password_off_loop(password)
    async with db.session() as session:
        user = await _load(session, user_id)
        user.password_hash = hashed
        await session.commit()
    return email


async def reset_password(db: Database, *, actor: Actor, user_id: str, password: str) -> int:
    """An admin sets a user's password: their sessions end and their lock is lifted.

    How many sessions ended.
    """
    _require_admin(actor)
    email = await _set_password(db, user_id, password)
    ended = await sessions.end_all(db, user_id=user_id)
    await signin.unlock(db, email=email)
    await audit_change(db, actor, "password_reset", user_id, {"sessions_ended": ended})
    return ended


async def change_password(
    db: Database, *, actor: Actor, current: str, new: str, keep_session: str | None
) -> int:
    """A user changes their own password, confirming the current one (throttled); every
    other session of theirs ends. How many ended."""
    if actor.user_id is None:
        raise InvalidInput("only a signed-in user has a password to change")
    if current == new:
        raise InvalidInput(SAME_PASSWORD, field="new_password")
    await signin.check_password(db, actor=actor, password=current)
    await _set_password(db, actor.user_id, new)
    ended = await sessions.end_all(db, user_id=actor.user_id, keep=keep_session)
    await audit_change(db, actor, "password_changed", actor.user_id, {"sessions_ended": ended})
    return ended


async def set_language(db: Database, *, actor: Actor, user_id: str, language: Language) -> None:
    """Set the dashboard's language of a user (their own, or anyone's for an admin)."""
    _require_self_or_admin(actor, user_id)
    async with db.session() as session:
        user = await _load(session, user_id)
        user.language = language.value
        audit.record(
            session,
            actor=actor,
            action="language_changed",
            subject_type="user",
            subject_id=user.id,
            details={"language": language.value},
        )
        await session.commit()


async def language_of(db: Database, *, user_id: str) -> Language:
    """The dashboard's language of a user (Hebrew for an unknown one)."""
    async with db.reading() as session:
        stored = await session.scalar(select(User.language).where(User.id == user_id))
    known = {language.value: language for language in Language}
    return known.get(stored or "", Language.HE)  # Hebrew too for a user gone meanwhile


async def unlock(db: Database, *, actor: Actor, user_id: str) -> int:
    """Lift the sign-in lock of a user's e-mail (from every address); counts cleared."""
    _require_admin(actor)
    account = await get_account(db, actor=actor, user_id=user_id)
    cleared = await signin.unlock(db, email=account.email)
    await audit_change(db, actor, "user_unlocked", user_id, {"counts_cleared": cleared})
    return cleared


async def sign_out_everywhere(
    db: Database, *, actor: Actor, user_id: str, keep_session: str | None = None
) -> int:
    """End a user's sessions (an admin: anyone's; a user: their own but ``keep_session``)."""
    _require_self_or_admin(actor, user_id)
    await get_account(db, actor=actor, user_id=user_id)
    ended = await sessions.end_all(db, user_id=user_id, keep=keep_session)
    await audit_change(db, actor, "signed_out_everywhere", user_id, {"sessions_ended": ended})
    return ended


async def sessions_of(db: Database, *, actor: Actor, user_id: str) -> list[sessions.SessionInfo]:
    """A user's live sessions: for the user themselves or an admin."""
    _require_self_or_admin(actor, user_id)
    await get_account(db, actor=actor, user_id=user_id)
    return await sessions.list_for(db, user_id=user_id)


async def end_session(db: Database, *, actor: Actor, session_id: str) -> None:
    """End one session: one's own, or anyone's for an admin."""
    await sessions.end_one(db, actor=actor, session_id=session_id)
    subject = actor.user_id or session_id
    await audit_change(db, actor, "session_ended", subject, {"session": session_id})
