"""Login timing tells nothing: every sign-in costs one Argon2 verification, off the loop.

Unknown e-mails used to answer in a third of the time (no hash to verify), and Argon2 ran
on the event loop. Counting verifications (the product's own metric) shows the dummy hash
is verified wherever there is no real one; a ticker shows the loop keeps running meanwhile.
"""

from __future__ import annotations

import asyncio

import pytest
from argon2 import PasswordHasher
from prometheus_client import REGISTRY
from sqlalchemy import update

from ovenai import auth, signin
from ovenai.db import Database
from ovenai.errors import AuthenticationFailed
from ovenai.models import Role, User

pytestmark = pytest.mark.anyio
PASSWORD = "a long enough password"


def _verifications() -> float:
    return REGISTRY.get_sample_value("ovenai_password_verifications_total") or 0.0


async def _verifications_of_a_failed_login(db: Database, email: str) -> float:
    before = _verifications()
    with pytest.raises(AuthenticationFailed):
        await signin.sign_in(db, email=email, password="wrong guess!", address="10.0.0.9")
    return _verifications() - before


async def test_every_failed_login_costs_one_verification(db: Database) -> None:
    await auth.create_user(db, email="known@agency.co.il", role=Role.AGENT, password=PASSWORD)
    await auth.create_user(db, email="nopass@agency.co.il", role=Role.AGENT)
    gone = await auth.create_user(db, email="gone@agency.co.il", role=Role.AGENT, password=PASSWORD)
    async with db.session() as session:
        await session.execute(update(User).where(User.id == gone.id).values(is_active=False))
        await session.commit()
    emails = ["known@", "nobody@", "nopass@", "gone@"]
    costs = [await _verifications_of_a_failed_login(db, f"{e}agency.co.il") for e in emails]
    assert costs == [1.0, 1.0, 1.0, 1.0]


async def test_the_dummy_hash_uses_the_current_parameters_and_matches_nothing() -> None:
    assert auth.dummy_hash().startswith("$argon2id$")
    assert PasswordHasher().check_needs_rehash(auth.dummy_hash()) is False
    assert await auth.verify_password(None, "") is False


async def test_verifying_a_password_leaves_the_event_loop_running() -> None:
    stored = auth.hash_password(PASSWORD)
    ticks = 0
    verifying = asyncio.ensure_future(auth.verify_password(stored, PASSWORD))
    while not verifying.done():
        ticks += 1
        await asyncio.sleep(0)
    assert await verifying is True
    assert ticks > 10  # on the loop, Argon2 would have blocked every tick until it finished
