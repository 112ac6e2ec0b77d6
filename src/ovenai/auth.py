"""Users, roles, passwords and API tokens.

Passwords are hashed with Argon2id, off the event loop in a small pool of its own (a hash
takes ~50 ms of CPU: on the loop, 40 logins would hold up every webhook acknowledgement;
in the default pool they could take every thread). Signing in with an unknown e-mail, or as
a user without a password, verifies against a dummy hash so that it costs what a known
e-mail costs and its timing tells nothing. API tokens are 256-bit random strings shown once; only
their SHA-256 is stored (a slow hash buys nothing for a secret with that much entropy, and
every API request checks one).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from ovenai import metrics, password_policy
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from ovenai.models import ApiToken, Role, User

_T = TypeVar("_T")
TOKEN_PREFIX = "ovn_"
_hasher = PasswordHasher()
# One thread: a burst of logins queues here instead of taking the threads every other task
# shares. Argon2 releases the GIL and spreads each hash over its lanes' threads, so it would
# take both cores of a small server from the event loop: the thread runs at a lower priority
# (Linux: nice is per thread, and the lanes' threads inherit it), so a webhook acknowledgement
# still gets a core at once and logins wait a little instead. Measured on 2 cores with 40
# logins in flight (bench/README.md "Sign-in"): two threads left acknowledgements at p99
# 28 ms, one at 18-24 ms (target 25), for ~7 % fewer logins a second.
HASHING_THREADS = 1
HASHING_NICENESS = 10
# Refusals a dashboard page shows: fixed sentences (the value is the field, not part of the
# text), so the dashboard finds their translation by the message.
NOT_AN_EMAIL = "this is not an e-mail address"
EMAIL_TAKEN = "a user with this e-mail address already exists"


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # no per-thread priority: run as is
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


_hashing = ThreadPoolExecutor(
    max_workers=HASHING_THREADS, thread_name_prefix="argon2", initializer=_lower_priority
)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, or the system itself (CLI, automation)."""

    user_id: str | None
    role: Role
    email: str

    @property
    def is_admin(self) -> bool:
        """Admins may do everything."""
        return self.role is Role.ADMIN

    @classmethod
    def system(cls) -> Actor:
        """The product acting on its own behalf, with an admin's reach."""
        return cls(user_id=None, role=Role.ADMIN, email="system")


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created API token; `token` is shown once and never stored."""

    id: str
    token: str
    user_email: str


def hash_password(password: str) -> str:
    """An Argon2id hash of a password (check it against the policy first)."""
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether a password matches its stored hash (constant-time inside argon2)."""
    if not password_hash:
        return False
    metrics.PASSWORD_VERIFICATIONS.inc()
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password, with the current parameters, that nothing can match."""
    return _hasher.hash(secrets.token_urlsafe(32))


def _verify_or_dummy(password_hash: str | None, password: str) -> bool:
    if password_hash:
        return password_matches(password_hash, password)
    password_matches(dummy_hash(), password)  # the same work, so no answer comes sooner
    return False


async def _off_loop(work: Callable[[], _T]) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_hashing, work)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether a password matches; a missing hash costs a dummy verification (off the loop)."""
    return await _off_loop(functools.partial(_verify_or_dummy, password_hash, password))


async def hash_password_off_loop(password: str) -> str:
    """`hash_password`, run in the hashing pool instead of on the event loop."""
    return await _off_loop(functools.partial(hash_password, password))


def normal_email(email: str) -> str:
    value = email.strip().lower()
    if "@" not in value or len(value) > 254 or value.startswith("@") or value.endswith("@"):
        raise InvalidInput(NOT_AN_EMAIL, field="email")
    return value


async def create_user(
    db: Database, *, email: str, role: Role, password: str | None = None, display_name: str = ""
) -> User:
    """Create a user; Conflict if the e-mail is taken, InvalidInput for a weak password."""
    address = normal_email(email)
    if password:
        password_policy.check(password, email=address)
    password_hash = await hash_password_off_loop(password) if password else None
    async with db.session() as session:
        taken = await session.scalar(select(func.count()).where(User.email == address))
        if taken:
            raise Conflict(EMAIL_TAKEN, field="email")
        user = User(
            email=address, role=role, password_hash=password_hash, display_name=display_name
        )
        session.add(user)
        await session.commit()
        return user


async def get_user_by_email(db: Database, *, email: str) -> User:
    """The user with this e-mail; NotFound otherwise."""
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == normal_email(email)))
    if user is None:
        raise NotFound(f"no user with e-mail {email}", field="email")
    return user


async def create_token(db: Database, *, email: str, name: str = "") -> IssuedToken:
    """Issue an API token for a user; the plain token is returned once."""
    user = await get_user_by_email(db, email=email)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, prefix=token[:10], token_hash=_digest(token))
    async with db.session() as session:
        session.add(row)
        await session.commit()
    return IssuedToken(id=row.id, token=token, user_email=user.email)


@dataclass(frozen=True)
class TokenInfo:
    """What can be shown of a token after its creation: never the token itself."""

    id: str
    prefix: str
    name: str
    user_email: str
    revoked: bool


async def list_tokens(db: Database) -> list[TokenInfo]:
    """Every token with its owner, newest first."""
    query = select(ApiToken, User.email).join(User, User.id == ApiToken.user_id)
    async with db.reading() as session:
        rows = (await session.execute(query.order_by(ApiToken.id.desc()))).all()
    return [TokenInfo(t.id, t.prefix, t.name, email, t.revoked_at is not None) for t, email in rows]


async def revoke_token(db: Database, *, token_id: str) -> None:
    """Revoke a token so it no longer authenticates."""
    async with db.session() as session:
        row = await session.get(ApiToken, token_id)
        if row is None:
            raise NotFound(f"no token {token_id}")
        row.revoked_at = row.revoked_at or utcnow()
        await session.commit()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def authenticate_token(db: Database, *, token: str) -> Actor:
    """The actor behind a bearer token; AuthenticationFailed when it is unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX):
        raise AuthenticationFailed("the bearer token is not valid")
    query = (
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _digest(token))
    )
    async with db.reading() as session:
        row = (await session.execute(query)).first()
    if row is None or row[0].revoked_at is not None or not row[1].is_active:
        raise AuthenticationFailed("the bearer token is not valid")
    user: User = row[1]
    return Actor(user_id=user.id, role=Role(user.role), email=user.email)
