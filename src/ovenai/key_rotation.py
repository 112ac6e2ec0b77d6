"""Master key rotation: re-wrap every data key under the newest master key, in batches.

1. `ovenai keys generate` prints a new entry; the operator puts it first in
   OVENAI_ENCRYPTION_KEYS and restarts (every process can now unwrap with old and new).
2. `ovenai keys rotate` re-wraps data keys in committed batches until none is left under an
   older key. Killed halfway, it resumes where it stopped; the product keeps serving.
3. `ovenai keys retire ID` confirms the old key wraps nothing before it leaves the ring.
The seed's rotation period is 90 days; the health check warns when the newest key is older.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from ovenai.columns import UTCDateTime, utcnow
from ovenai.db import Database
from ovenai.keystore import DataKey

ROTATION_PERIOD_DAYS = 90


@dataclass(frozen=True)
class KeyStatus:
    """The ring, what each master key wraps, and how long the newest has been in use."""

    ring: tuple[str, ...]
    usage: dict[str, int]
    unknown: dict[str, int]
    newest_age_days: int | None


async def rotate_all(
    db: Database, *, batch_size: int = 500, progress: Callable[[int, int], None] | None = None
) -> int:
    """Re-wrap batches until every data key is under the newest master key."""
    total = 0
    while True:
        step = await db.vault.rotate_batch(batch_size=batch_size)
        total += step.rewrapped
        if progress and step.rewrapped:
            progress(total, step.remaining)
        if step.remaining == 0:
            return total


async def newest_key_age_days(db: Database) -> int | None:
    """Days since the newest master key first wrapped a data key (None if it wraps none)."""
    newest = db.vault.ring.newest_id
    first = func.min(func.coalesce(DataKey.rotated_at, DataKey.created_at), type_=UTCDateTime())
    query = select(first).where(DataKey.master_key_id == newest)
    async with db.vault.engine.connect() as conn:
        since = await conn.scalar(query)
    if since is None:
        return None
    return int((utcnow() - since).days)


async def status(db: Database) -> KeyStatus:
    """The rotation state of the key store."""
    usage = await db.vault.usage()
    ring = db.vault.ring.ids
    unknown = {key_id: count for key_id, count in usage.items() if key_id not in ring}
    return KeyStatus(ring, usage, unknown, await newest_key_age_days(db))


async def check_retirable(db: Database, key_id: str) -> None:
    """Conflict unless the master key wraps no data key any more."""
    db.vault.check_retirable(await db.vault.usage(), key_id)
