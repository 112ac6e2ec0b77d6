"""Master key rotation: batches, resumable, readable throughout, retire only when unused."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from ovenai import health, key_rotation
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.crypto import generate_master_key
from ovenai.db import Database, open_database
from ovenai.errors import Conflict, CryptoError
from ovenai.keystore import DataKey, RotationStep
from ovenai.lead_fields import LeadCreate, LeadFilter
from ovenai.leads import create_lead, list_leads
from ovenai.settings import Settings

pytestmark = pytest.mark.anyio
SYSTEM = Actor.system()


async def _names(db: Database) -> set[str | None]:
    page = await list_leads(db, actor=SYSTEM, filters=LeadFilter(limit=200))
    return {lead.name for lead in page.items}


async def _with_ring(settings: Settings, ring: str) -> Database:
    db = open_database(settings.model_copy(update={"encryption_keys": _secret(ring)}))
    await db.start()
    return db


def _secret(value: str):  # type: ignore[no-untyped-def]
    from pydantic import SecretStr

    return SecretStr(value)


async def test_a_rotation_stopped_halfway_then_resumed_leaves_every_value_readable(
    db: Database, settings: Settings
) -> None:
    expected = {f"ליד {i}" for i in range(30)}
    for i in range(30):
        await create_lead(db, actor=SYSTEM, data=LeadCreate(name=f"ליד {i}", phone=f"05023{i:05d}"))
    old_entry = settings.secret("encryption_keys")
    new_entry = generate_master_key(key_id="k-new")
    rotated = await _with_ring(settings, f"{new_entry},{old_entry}")
    try:
        first = await rotated.vault.rotate_batch(batch_size=10)  # then the process "dies"
        assert first.rewrapped == 10 and first.remaining > 0
        midway = await _with_ring(settings, f"{new_entry},{old_entry}")  # a restarted process
        assert expected <= await _names(midway)
        total = await key_rotation.rotate_all(midway, batch_size=7)
        await midway.dispose()
        assert total == first.remaining
        status = await key_rotation.status(rotated)
        assert status.usage == {"k-new": status.usage["k-new"]}
        await key_rotation.check_retirable(rotated, "test-1")
    finally:
        await rotated.dispose()
    only_new = await _with_ring(settings, new_entry)
    try:
        assert expected <= await _names(only_new)
    finally:
        await only_new.dispose()
        await _rotate_back(settings, old_entry, new_entry)


async def _rotate_back(settings: Settings, old_entry: str, new_entry: str) -> None:
    """The key store is shared by the test session: put it back under the session's key."""
    back = await _with_ring(settings, f"{old_entry},{new_entry}")
    try:
        await key_rotation.rotate_all(back)
    finally:
        await back.dispose()


async def test_a_master_key_still_in_use_cannot_be_retired(db: Database) -> None:
    await create_lead(db, actor=SYSTEM, data=LeadCreate(name="x", phone="0502345678"))
    wraps = (await db.vault.usage())["test-1"]
    with pytest.raises(Conflict) as refused:
        await key_rotation.check_retirable(db, db.vault.ring.newest_id)
    assert refused.value.message == (
        f"master key test-1 still wraps {wraps} data keys; run `ovenai keys rotate` first"
    )


async def test_batches_go_in_id_order_500_by_default_and_date_the_new_master_key(
    db: Database, settings: Settings
) -> None:
    """A batch re-wraps the stale keys of lowest id (500 unless told), each under its own
    scope, and stamps it: the newest master key's age (health's warning) counts from the
    rotation, not from when a key was first made."""
    shared = f"shared-{new_id()}"  # one id in two scopes
    with time_machine.travel(utcnow() - timedelta(days=100), tick=False):
        made = await db.vault.keys("lead", [new_id() for _ in range(502)], create=True)
        lead_key = await db.vault.key("lead", shared, create=True)
        webhook_key = await db.vault.key("webhook", shared, create=True)
    first = f"!{new_id()}"  # sorts before every other id, made last
    await db.vault.key("lead", first, create=True)
    stored = sum((await db.vault.usage()).values())
    assert stored >= len(made) + 3
    old_entry = settings.secret("encryption_keys")
    new_entry = generate_master_key(key_id="k-new")
    rotated = await _with_ring(settings, f"{new_entry},{old_entry}")
    try:
        step = await rotated.vault.rotate_batch(batch_size=1)
        assert step == RotationStep(rewrapped=1, remaining=stored - 1)
        assert await rotated.vault.usage() == {"k-new": 1, "test-1": stored - 1}
        async with rotated.vault.engine.connect() as conn:
            master = select(DataKey.master_key_id).where(DataKey.id == first)
            assert await conn.scalar(master) == "k-new"  # the lowest id went first
        step = await rotated.vault.rotate_batch()
        assert step == RotationStep(rewrapped=500, remaining=stored - 501)
        await key_rotation.rotate_all(rotated)
        status = await key_rotation.status(rotated)
        assert status.usage == {"k-new": stored} and status.newest_age_days == 0
    finally:
        await rotated.dispose()
    only_new = await _with_ring(settings, new_entry)
    try:
        assert await only_new.vault.key("lead", shared) == lead_key
        assert await only_new.vault.key("webhook", shared) == webhook_key
        some = list(made)[:50]
        assert await only_new.vault.keys("lead", some) == {k: made[k] for k in some}
    finally:
        await only_new.dispose()
        await _rotate_back(settings, old_entry, new_entry)


async def test_a_ring_without_the_wrapping_key_cannot_read(
    db: Database, settings: Settings
) -> None:
    await create_lead(db, actor=SYSTEM, data=LeadCreate(name="x", phone="0502345679"))
    stranger = open_database(
        settings.model_copy(update={"encryption_keys": _secret(generate_master_key())})
    )
    try:
        with pytest.raises(CryptoError):
            await stranger.start()
    finally:
        await stranger.dispose()


async def test_health_warns_when_the_newest_key_is_older_than_90_days(db: Database) -> None:
    await create_lead(db, actor=SYSTEM, data=LeadCreate(name="x", phone="0502345670"))
    assert (await health.check(db)).checks["encryption_keys"]["status"] == "ok"
    with time_machine.travel(utcnow() + timedelta(days=91), tick=False):
        result = await health.check(db)
    assert result.status == "degraded"
    assert result.checks["encryption_keys"]["newest_key_age_days"] == 91
