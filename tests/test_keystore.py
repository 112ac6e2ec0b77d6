"""The key store: data keys created in batches, kept across processes, destroyed for good."""

from __future__ import annotations

import pytest

from ovenai.columns import new_id
from ovenai.db import Database
from ovenai.errors import CryptoError
from ovenai.keystore import Vault

pytestmark = pytest.mark.anyio


def fresh_vault(db: Database) -> Vault:
    """Another process's view of the same key store (nothing cached)."""
    return Vault(db.vault.ring, db.vault.url)


async def test_many_keys_are_created_at_once_and_read_back_by_another_process(
    db: Database,
) -> None:
    ids = [new_id() for _ in range(300)]
    made = await db.vault.keys("lead", ids, create=True)
    other = fresh_vault(db)
    try:
        assert await other.keys("lead", ids) == made
    finally:
        await other.dispose()
    assert len(set(made.values())) == len(ids)  # a key of its own for every lead


async def test_a_key_another_process_created_meanwhile_is_used_not_replaced(
    db: Database,
) -> None:
    raced, fresh = new_id(), new_id()
    other = fresh_vault(db)
    try:
        theirs = await other.key("lead", raced, create=True)
    finally:
        await other.dispose()
    db.vault.forget_cache()
    made = await db.vault._create("lead", [raced, fresh])  # as if both were missing here
    assert made[raced] == theirs
    assert await db.vault.key("lead", fresh) == made[fresh]


async def test_missing_keys_are_not_created_unless_asked(db: Database) -> None:
    with pytest.raises(CryptoError, match="no longer exists"):
        await db.vault.keys("lead", [new_id()])
