"""Signing in to the dashboard with a password, throttled against guessing.

Failed attempts are written to the audit log, and counted in ``throttle_counts`` (shared by
every process) within a window of 15 minutes from a key's first failure. Which keys an
attempt counts against depends on where it comes from, so that guessing is slowed but the
right password from a browser the user has signed in with before is never locked out:

- from a *known browser* (one holding a device cookie that a correct sign-in to this
  e-mail gave it, bound to the current password by :func:`browser_mark`, so a password
  change or reset makes every browser new again): only that browser's own count (5).
  Nobody else can add to it, so nobody else can lock that browser out;
- from anywhere else: the e-mail from that address (5), the address (20) and the e-mail
  from every address together (50, against guessing spread over many addresses).

An admin's ``ovenai users unlock`` (or the dashboard's) clears an e-mail's counts at once.
Bearer tokens of the REST API are throttled per address (30). E-mails are counted under
a digest, so the table names no one.

An attempt is counted *before* it is checked, in one statement that returns the new count,
so of a burst of concurrent wrong guesses at most the limit are checked against a password;
an attempt that turns out right, or is refused, takes its count back.
"""

from __future__ import annotations

import hashlib
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
MAX_FAILURES_PER_DEVICE = 5
MAX_FAILURES_PER_EMAIL_AND_ADDRESS = 5
MAX_FAILURES_PER_ADDRESS = 20
MAX_FAILURES_PER_EMAIL = 50
MAX_TOKEN_FAILURES_PER_ADDRESS = 30
LOGIN = "login_failed"
TOKEN = "token_failed"
# The refusals, one fixed sentence each: the dashboard finds its translation by the message.
TOO_MANY_ATTEMPTS = "too many failed attempts; try again in 15 minutes"
WRONG_CREDENTIALS = "the e-mail or password is wrong"
WRONG_CURRENT_PASSWORD = "the current password is wrong"


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
    decrement = case((ThrottleCount.failures > 0, ThrottleCount.failures - 1), else_=0)
    async with db.session() as session:
        # One row at a time in the order _count locks them: a statement over all the keys
        # at once would lock its rows in whatever order PostgreSQL scans them, and two
        # attempts of one burst could then deadlock (seen as 503s under a burst).
        for key in sorted(f"{action}:{label}" for label in labels):
            # A row holding only this attempt goes: refused tries of ever new e-mails (and
            # sign-ins without failures) leave nothing behind to pile up.
            only_this = (ThrottleCount.key == key) & (ThrottleCount.failures <= 1)
            await session.execute(delete(ThrottleCount).where(only_this))
            await session.execute(
                update(ThrottleCount).where(ThrottleCount.key == key).values(failures=decrement)
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
        raise TooManyRequests(TOO_MANY_ATTEMPTS)


async def _audit_failure(
    db: Database, *, action: str, actor: str, details: dict[str, object]
) -> None:
    async with db.session() as session:
        audit.record(session, actor=actor, action=action, subject_type="auth", details=details)
        await session.commit()


def _email_key(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def login_limits(*, email: str, address: str, device: str | None) -> dict[str, int]:
    """The counts a sign-in attempt adds to, with their limits (see the module docstring)."""
    if device is not None:
        return {f"device:{device}": MAX_FAILURES_PER_DEVICE}
    key = _email_key(email)
    return {
        f"pair:{key}:{address}": MAX_FAILURES_PER_EMAIL_AND_ADDRESS,
        f"ip:{address}": MAX_FAILURES_PER_ADDRESS,
        f"email:{key}": MAX_FAILURES_PER_EMAIL,
    }


async def _user_for(db: Database, *, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, else None; one Argon2 check either way."""
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == email))
    stored = user.password_hash if user is not None and user.is_active else None
    return user if await verify_password(stored, password) else None


async def sign_in(
    db: Database, *, email: str, password: str, address: str, device: str | None = None
) -> Actor:
    """The actor for a correct e-mail and password; throttled, audited.

    ``device`` is the id of a known browser's device cookie, already checked by the caller
    to have been issued for this e-mail.
    """
    email = email.strip().lower()
    limits = login_limits(email=email, address=address, device=device)
    await _admit(db, action=LOGIN, limits=limits)
    user = await _user_for(db, email=email, password=password)
    if user is None:
        details: dict[str, object] = {"address": address, "known_browser": device is not None}
        await _audit_failure(db, action=LOGIN, actor=email, details=details)
        raise AuthenticationFailed(WRONG_CREDENTIALS)
    actor = Actor(user_id=user.id, role=Role(user.role), email=user.email)
    await _take_back(db, action=LOGIN, labels=list(limits), actor=actor)
    return actor


async def browser_mark(db: Database, *, email: str) -> str | None:
    """What binds a known browser's device cookie to the user's current password.

    A short digest of the stored hash: a password change or reset changes it, so every
    browser known before (a thief's included) counts as new again. None for an e-mail
    without an active user with a password.
    """
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active or not user.password_hash:
        return None
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


async def check_password(db: Database, *, actor: Actor, password: str) -> None:
    """Confirm a signed-in user's password again (before changing it); throttled per e-mail.

    A stolen session must not become a way to guess the password: these checks count
    against the e-mail as if made from an address of their own.
    """
    limits = login_limits(email=actor.email, address="session", device=None)
    await _admit(db, action=LOGIN, limits=limits)
    if await _user_for(db, email=actor.email, password=password) is None:
        details: dict[str, object] = {"address": "session", "known_browser": False}
        await _audit_failure(db, action=LOGIN, actor=actor.email, details=details)
        raise AuthenticationFailed(WRONG_CURRENT_PASSWORD, field="current_password")
    await _take_back(db, action=LOGIN, labels=list(limits))


async def unlock(db: Database, *, email: str) -> int:
    """Clear an e-mail's failed sign-ins from every address; how many counts went."""
    key = _email_key(email.strip().lower())
    matches = (ThrottleCount.key == f"{LOGIN}:email:{key}") | ThrottleCount.key.startswith(
        f"{LOGIN}:pair:{key}:", autoescape=True
    )
    async with db.session() as session:
        cleared = dialects.rowcount(await session.execute(delete(ThrottleCount).where(matches)))
        await session.commit()
    return cleared


async def locked(db: Database, *, emails: list[str]) -> set[str]:
    """Which of these e-mails are refused from new browsers and addresses right now."""
    keys = {f"{LOGIN}:email:{_email_key(email)}": email for email in emails}
    fresh = ThrottleCount.window_start >= utcnow() - WINDOW
    query = select(ThrottleCount.key).where(
        ThrottleCount.key.in_(keys), ThrottleCount.failures >= MAX_FAILURES_PER_EMAIL, fresh
    )
    async with db.session() as session:
        over = (await session.scalars(query)).all()
    return {keys[key] for key in over}


async def prune(db: Database) -> int:
    """Delete counts whose window is over (they would restart at 1 anyway); how many went."""
    expired = ThrottleCount.window_start < utcnow() - WINDOW
    async with db.session() as session:
        pruned = dialects.rowcount(await session.execute(delete(ThrottleCount).where(expired)))
        await session.commit()
    return pruned


async def refuse_over_token_limit(db: Database, *, address: str) -> None:
    """TooManyRequests when an address has used up its bad bearer tokens in this window."""
    query = select(ThrottleCount.failures).where(
        ThrottleCount.key == f"{TOKEN}:ip:{address}",
        ThrottleCount.window_start >= utcnow() - WINDOW,
    )
    async with db.session() as session:
        failures = await session.scalar(query)
    if failures is not None and failures >= MAX_TOKEN_FAILURES_PER_ADDRESS:
        raise TooManyRequests(TOO_MANY_ATTEMPTS)


async def count_token_failure(db: Database, *, address: str) -> None:
    """Count a failed bearer token from an address; TooManyRequests past the limit."""
    limits = {f"ip:{address}": MAX_TOKEN_FAILURES_PER_ADDRESS}
    await _admit(db, action=TOKEN, limits=limits)
    await _audit_failure(db, action=TOKEN, actor=f"ip:{address}", details={})
