"""Signing in to the dashboard with a password, throttled against guessing.

Failed attempts are written to the audit log (shared by every process), and too many for
one e-mail or from one address in a short time refuse further tries for a while. Bearer
tokens of the REST API are throttled the same way per address.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ovenai import audit
from ovenai.auth import Actor, password_matches
from ovenai.db import Database
from ovenai.errors import AuthenticationFailed, TooManyRequests
from ovenai.models import Role, User

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 20
MAX_TOKEN_FAILURES_PER_ADDRESS = 30


async def _throttle(db: Database, *, action: str, labels: dict[str, int]) -> None:
    async with db.session() as session:
        for label, limit in labels.items():
            failures = await audit.count_recent(
                session, action=action, actor_label=label, within=WINDOW
            )
            if failures >= limit:
                raise TooManyRequests("too many failed attempts; try again in 15 minutes")


async def _record_failure(db: Database, *, action: str, labels: list[str]) -> None:
    async with db.session() as session:
        for label in labels:
            audit.record(session, actor=label, action=action, subject_type="auth")
        await session.commit()


async def sign_in(db: Database, *, email: str, password: str, address: str) -> Actor:
    """The actor for a correct e-mail and password; throttled, audited."""
    email = email.strip().lower()
    labels = {email: MAX_FAILURES_PER_EMAIL, f"ip:{address}": MAX_FAILURES_PER_ADDRESS}
    await _throttle(db, action="login_failed", labels=labels)
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == email))
        if user is None or not user.is_active or not password_matches(user.password_hash, password):
            user = None
    if user is None:
        await _record_failure(db, action="login_failed", labels=list(labels))
        raise AuthenticationFailed("the e-mail or password is wrong")
    actor = Actor(user_id=user.id, role=Role(user.role), email=user.email)
    async with db.session() as session:
        audit.record(session, actor=actor, action="login", subject_type="user", subject_id=user.id)
        await session.commit()
    return actor


async def session_actor(db: Database, *, user_id: str) -> Actor | None:
    """The actor of a dashboard session, or None when the user is gone or disabled."""
    async with db.session() as session:
        user = await session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    return Actor(user_id=user.id, role=Role(user.role), email=user.email)


async def check_token_throttle(db: Database, *, address: str) -> None:
    """Refuse bearer tokens from an address that failed too often lately."""
    labels = {f"ip:{address}": MAX_TOKEN_FAILURES_PER_ADDRESS}
    await _throttle(db, action="token_failed", labels=labels)


async def record_token_failure(db: Database, *, address: str) -> None:
    """Count a failed bearer token from an address."""
    await _record_failure(db, action="token_failed", labels=[f"ip:{address}"])
