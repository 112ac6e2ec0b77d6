"""Signing in to the dashboard with a password, throttled against guessing.

Failed attempts are written to the audit log, and counted in ``throttle_counts`` (shared by
every process): too many for one e-mail or from one address within a window refuse further
tries until the window (15 minutes from its first failure) is over. Bearer tokens of the
REST API are throttled the same way per address.

An attempt is counted *before* it is checked, in one statement that returns the new count,
so of a burst of concurrent wrong guesses at most the limit are checked against a password;
an attempt that turns out right, or is refused, takes its count back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import case, delete, literal, select, update

from ovenai import audit, dialects
from ovenai.auth import Actor, verify_password
from ovenai.columns import UTCDateTime, utcnow
from ovenai.db import Database
from ovenai.errors import AuthenticationFailed, TooManyRequests
from ovenai.models import Role, ThrottleCount, User

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 20
MAX_TOKEN_FAILURES_PER_ADDRESS = 30
_REFUSAL = "too many failed attempts; try again in 15 minutes"


async def _count(db: Database, *, action: str, labels: list[str]) -> list[int]:
    """Count one attempt against each label, atomically; the new counts, in label order."""
    now = utcnow()
    expired = ThrottleCount.window_start < now - WINDOW
    counts: dict[str, int] = {}
    async with db.session() as session:
        # Sorted keys: two attempts sharing rows lock them in the same order (PostgreSQL).
        for label in sorted(labels):
            statement = dialects.insert(session, ThrottleCount).values(
                key=f"{action}:{label}", window_start=now, failures=1
            )
            statement = statement.on_conflict_do_update(
                index_elements=[ThrottleCount.key],
                set_={
                    "failures": case((expired, 1), else_=ThrottleCount.failures + 1),
                    "window_start": case(
                        (expired, literal(now, UTCDateTime())), else_=ThrottleCount.window_start
                    ),
                },
            )
            counts[label] = int(await session.scalar(statement.returning(ThrottleCount.failures)))
        await session.commit()
    return [counts[label] for label in labels]


async def _take_back(
    db: Database, *, action: str, labels: list[str], actor: Actor | None = None
) -> None:
    """Undo one counted attempt per label (it was right, or refused before any check).

    With ``actor``, the sign-in is audited in the same transaction.
    """
    keys = [f"{action}:{label}" for label in labels]
    decrement = case((ThrottleCount.failures > 0, ThrottleCount.failures - 1), else_=0)
    async with db.session() as session:
        # A row holding only this attempt goes: refused tries of ever new e-mails (and
        # sign-ins without failures) leave nothing behind to pile up.
        only_this = ThrottleCount.key.in_(keys) & (ThrottleCount.failures <= 1)
        await session.execute(delete(ThrottleCount).where(only_this))
        await session.execute(
            update(ThrottleCount).where(ThrottleCount.key.in_(keys)).values(failures=decrement)
        )
        if actor is not None:
            audit.record(
                session, actor=actor, action="login", subject_type="user", subject_id=actor.user_id
            )
        await session.commit()


async def _admit(db: Database, *, action: str, limits: Mapping[str, int]) -> None:
    """Count an attempt; TooManyRequests (count taken back) when a label is over its limit."""
    labels = list(limits)
    counts = await _count(db, action=action, labels=labels)
    if any(count > limits[label] for label, count in zip(labels, counts, strict=True)):
        await _take_back(db, action=action, labels=labels)
        raise TooManyRequests(_REFUSAL)


async def _audit_failure(db: Database, *, action: str, labels: list[str]) -> None:
    async with db.session() as session:
        for label in labels:
            audit.record(session, actor=label, action=action, subject_type="auth")
        await session.commit()


async def _user_for(db: Database, *, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, else None; one Argon2 check either way."""
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == email))
    stored = user.password_hash if user is not None and user.is_active else None
    return user if await verify_password(stored, password) else None


async def sign_in(db: Database, *, email: str, password: str, address: str) -> Actor:
    """The actor for a correct e-mail and password; throttled, audited."""
    email = email.strip().lower()
    limits = {email: MAX_FAILURES_PER_EMAIL, f"ip:{address}": MAX_FAILURES_PER_ADDRESS}
    await _admit(db, action="login_failed", limits=limits)
    user = await _user_for(db, email=email, password=password)
    if user is None:
        await _audit_failure(db, action="login_failed", labels=list(limits))
        raise AuthenticationFailed("the e-mail or password is wrong")
    actor = Actor(user_id=user.id, role=Role(user.role), email=user.email)
    await _take_back(db, action="login_failed", labels=list(limits), actor=actor)
    return actor


async def session_actor(db: Database, *, user_id: str) -> Actor | None:
    """The actor of a dashboard session, or None when the user is gone or disabled."""
    async with db.session() as session:
        user = await session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    return Actor(user_id=user.id, role=Role(user.role), email=user.email)


async def count_token_failure(db: Database, *, address: str) -> None:
    """Count a failed bearer token from an address; TooManyRequests past the limit."""
    label = f"ip:{address}"
    await _admit(db, action="token_failed", limits={label: MAX_TOKEN_FAILURES_PER_ADDRESS})
    await _audit_failure(db, action="token_failed", labels=[label])
