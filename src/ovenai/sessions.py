"""Dashboard sessions as server-side records, so that ending one takes effect at once.

Signing in creates a row in ``user_sessions`` and hands the browser a 256-bit secret (in
the signed session cookie); only the secret's SHA-256 is stored, so a copy of the database
opens no session. Every page looks the secret up: a session ends — for every process and
for any copy of the cookie — the moment its row is gone. Rows go on logout, when the user
changes their password (all but the browser that changed it), when an admin resets the
password, disables the user or signs them out everywhere, and when the user ends one of
their own sessions from the list. A session lasts :data:`LIFETIME` from sign-in at most;
expired rows are refused on sight and pruned by the worker.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, select, update

from ovenai import alerts, dialects, notifications
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import NotFound
from ovenai.models import Language, Role, User, UserSession

LIFETIME = timedelta(hours=8)
# Last-seen times are for the session list, not for security: written at most this often,
# so that a busy page does not turn every request into a write.
SEEN_EVERY = timedelta(minutes=5)
_ADDRESS_CHARS = 64
_AGENT_CHARS = 200


@dataclass(frozen=True)
class Started:
    """A new session: ``secret`` goes into the cookie and is never stored."""

    id: str
    secret: str


@dataclass(frozen=True)
class Current:
    """The user and session behind a cookie's secret, and the user's dashboard language."""

    actor: Actor
    session_id: str
    language: Language
    unread_notifications: int | None = None
    """The header's counts, when :func:`resolve` was asked for them (``header``): the
    user's unread notifications, and for an admin the open critical alerts (None for an
    agent, who is not shown them)."""
    critical_alerts: int | None = None


@dataclass(frozen=True)
class SessionInfo:
    """One session as its user (or an admin) sees it in the list."""

    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    address: str
    user_agent: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def start(db: Database, *, actor: Actor, address: str, user_agent: str) -> Started:
    """Record a new session for a signed-in user."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(
        user_id=actor.user_id,
        secret_hash=_digest(secret),
        created_at=now,
        last_seen_at=now,
        expires_at=now + LIFETIME,
        address=address[:_ADDRESS_CHARS],
        user_agent=user_agent[:_AGENT_CHARS],
    )
    async with db.session() as session:
        session.add(row)
        await session.commit()
    return Started(id=row.id, secret=secret)


async def resolve(db: Database, *, secret: str, header: bool = False) -> Current | None:
    """The live session behind a secret, or None (ended, expired, or its user disabled).

    ``header``: with what every dashboard page's header shows, in the same statement (one
    round trip, where each count took a connection of its own): the user's unread
    notifications and, for an admin only, the open critical alerts.
    """
    now = utcnow()
    columns: list[Any] = [UserSession, User]
    if header:
        admin_only = case((User.role == Role.ADMIN.value, alerts.open_critical()), else_=None)
        columns += [notifications.unread_of(User.id), admin_only]
    query = (
        select(*columns)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.secret_hash == _digest(secret))
    )
    async with db.reading() as session:  # every request asks: never behind the writer
        found = (await session.execute(query)).first()
    if found is None:
        return None
    row, user = found[0], found[1]
    unread, critical = (found[2], found[3]) if header else (None, None)
    if row.expires_at <= now or not user.is_active:
        return None
    if now - row.last_seen_at >= SEEN_EVERY:
        seen = update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now)
        async with db.session() as session:
            await session.execute(seen)
            await session.commit()
    actor = Actor(user_id=user.id, role=Role(user.role), email=user.email)
    language = Language.EN if user.language == Language.EN else Language.HE
    return Current(
        actor=actor,
        session_id=row.id,
        language=language,
        unread_notifications=None if unread is None else int(unread),
        critical_alerts=None if critical is None else int(critical),
    )


async def end(db: Database, *, secret: str) -> None:
    """End the session behind a secret (logout); nothing happens if it is already gone."""
    async with db.session() as session:
        await session.execute(delete(UserSession).where(UserSession.secret_hash == _digest(secret)))
        await session.commit()


async def end_all(db: Database, *, user_id: str, keep: str | None = None) -> int:
    """End every session of a user (but ``keep``, the caller's own); how many ended."""
    statement = delete(UserSession).where(UserSession.user_id == user_id)
    if keep is not None:
        statement = statement.where(UserSession.id != keep)
    async with db.session() as session:
        ended = dialects.rowcount(await session.execute(statement))
        await session.commit()
    return ended


async def end_one(db: Database, *, actor: Actor, session_id: str) -> None:
    """End one session: one's own, or anyone's for an admin; NotFound otherwise."""
    statement = delete(UserSession).where(UserSession.id == session_id)
    if not actor.is_admin:
        statement = statement.where(UserSession.user_id == actor.user_id)
    async with db.session() as session:
        ended = dialects.rowcount(await session.execute(statement))
        await session.commit()
    if not ended:
        raise NotFound(f"no session {session_id}")


async def list_for(db: Database, *, user_id: str) -> list[SessionInfo]:
    """A user's live sessions, the most recently used first."""
    query = (
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.expires_at > utcnow())
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    async with db.reading() as session:
        rows = (await session.scalars(query)).all()
    return [
        SessionInfo(
            id=row.id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            address=row.address,
            user_agent=row.user_agent,
        )
        for row in rows
    ]


async def prune(db: Database) -> int:
    """Delete expired sessions; how many went."""
    async with db.session() as session:
        pruned = await session.execute(
            delete(UserSession).where(UserSession.expires_at <= utcnow())
        )
        await session.commit()
    return dialects.rowcount(pruned)
