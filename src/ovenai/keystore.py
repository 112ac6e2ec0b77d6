"""The key store: data keys kept apart from the data, so erasure reaches backups too.

Envelope encryption: each lead has its own 256-bit data key; the blind-index key and other
product-wide keys are data keys too. All are stored wrapped by the newest master key of the
ring (`OVENAI_ENCRYPTION_KEYS`) in a database of their own (`OVENAI_KEYSTORE_URL`), never in
the main database. A copy of the main database therefore holds only ciphertext: once a
lead's key is destroyed (erasure), no copy of that lead's data — backups included — can be
read again (crypto-shredding). The key store is backed up separately, with a retention
shorter than the 30-day erasure deadline.

Destroying a key removes its bytes from the files too, not only from the table: on SQLite
every connection runs with ``secure_delete`` (deleted rows are zeroed in their page) and a
destroy ends with a ``wal_checkpoint(TRUNCATE)`` (the WAL, which held copies of the key, is
emptied); on PostgreSQL the dead row stays in the table file until :meth:`Vault.vacuum`
(``ovenai keys vacuum``: ``VACUUM FULL data_keys``) rewrites it.

Rotating master keys re-wraps data keys in batches (:meth:`Vault.rotate`); the data itself
never changes, and blind indexes stay valid because the index key is a stored data key.
Values are sealed with these keys by :mod:`ovenai.sealing`. ``KeyRing`` and
``generate_master_key`` are re-exported here, so that only the key store and sealing
import :mod:`ovenai.crypto`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, String, Update, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ovenai import crypto, dialects
from ovenai.columns import UTCDateTime, utcnow
from ovenai.crypto import KeyRing as KeyRing
from ovenai.crypto import generate_master_key as generate_master_key
from ovenai.engines import READS_ONLY, create_engine
from ovenai.errors import Conflict, CryptoError

BLIND_INDEX = "blind_index"
log = logging.getLogger(__name__)


class KeyBase(DeclarativeBase):
    """Base of the key store's tables (a separate database)."""


class DataKey(KeyBase):
    """One wrapped data key: a lead's, or a product-wide one (scope `system`)."""

    __tablename__ = "data_keys"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    master_key_id: Mapped[str] = mapped_column(String(64), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _context(scope: str, key_id: str) -> bytes:
    return f"data-key:{scope}:{key_id}".encode()


@dataclass(frozen=True)
class RotationStep:
    """What one batch of a rotation did."""

    rewrapped: int
    remaining: int


class Vault:
    """The key store's engine, the master key ring and a cache of unwrapped keys."""

    def __init__(self, ring: crypto.KeyRing, url: str, *, cache_size: int = 4096) -> None:
        self.ring = ring
        self.url = url
        self.engine = create_engine(url, secure_delete=True)
        # Key reads never queue behind a writer for SQLite's write lock (engines.READS_ONLY):
        # a page of many leads reads keys while the worker stores new ones.
        self._reader = self.engine.execution_options(**{READS_ONLY: True})
        self._index_key: bytes | None = None
        self._cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._cache_size = cache_size

    async def start(self) -> None:
        """Load (creating once) the blind-index key; call before any lookup."""
        self._index_key = await self.key("system", BLIND_INDEX, create=True)

    async def dispose(self) -> None:
        """Close the key store's connections."""
        await self.engine.dispose()

    def index(self, kind: str, value: str) -> str:
        """The blind index of a value (phone, bsuid, wa_id, name token)."""
        if self._index_key is None:
            raise CryptoError("the key store was not started")
        return crypto.blind_index(self._index_key, kind, value)

    async def key(self, scope: str, key_id: str, *, create: bool = False) -> bytes:
        """One data key; created when asked to and missing, CryptoError when destroyed."""
        found = await self.keys(scope, [key_id], create=create)
        return found[key_id]

    async def keys(
        self, scope: str, key_ids: Iterable[str], *, create: bool = False
    ) -> dict[str, bytes]:
        """Several data keys of one scope in one query."""
        wanted = list(dict.fromkeys(key_ids))
        found = {k: self._cache[(scope, k)] for k in wanted if (scope, k) in self._cache}
        missing = [k for k in wanted if k not in found]
        if missing:
            found.update(await self._load(scope, missing))
        absent = [k for k in wanted if k not in found]
        if absent:
            if not create:
                raise CryptoError(f"the {scope} data key {absent[0]} no longer exists")
            found.update(await self._create(scope, absent))
        return found

    async def _load(self, scope: str, key_ids: list[str]) -> dict[str, bytes]:
        listed = dialects.one_of(self._reader.dialect, DataKey.id, key_ids)
        # The three columns unwrapping needs, not the entity: no timestamps converted a key.
        columns = (DataKey.id, DataKey.master_key_id, DataKey.wrapped)
        query = select(*columns).where(DataKey.scope == scope, listed)
        async with self._reader.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.id: self._unwrap(scope, row.id, row.master_key_id, row.wrapped) for row in rows}

    def _unwrap(self, scope: str, key_id: str, master_key_id: str, wrapped: bytes) -> bytes:
        key = self.ring.unwrap(
            crypto.WrappedKey(master_key_id, wrapped), context=_context(scope, key_id)
        )
        self._remember((scope, key_id), key)
        return key

    def _made(
        self, scope: str, key_ids: list[str]
    ) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
        """New data keys, and their rows wrapped by the newest master key."""
        made = {key_id: crypto.new_data_key() for key_id in key_ids}
        rows = []
        for key_id, key in made.items():
            wrapped = self.ring.wrap(key, context=_context(scope, key_id))
            rows.append(
                {
                    "scope": scope,
                    "id": key_id,
                    "master_key_id": wrapped.key_id,
                    "wrapped": wrapped.blob,
                }
            )
        return made, rows

    async def _store(self, rows: list[dict[str, Any]]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(DataKey), rows)

    async def _create(self, scope: str, key_ids: list[str]) -> dict[str, bytes]:
        """New data keys, stored in one transaction (one by one if another process raced)."""
        made, rows = self._made(scope, key_ids)
        try:
            await self._store(rows)
        except IntegrityError:  # some created meanwhile by another process: use those
            if len(rows) > 1:
                found: dict[str, bytes] = {}
                for key_id in key_ids:
                    found.update(await self._create(scope, [key_id]))
                return found
            return await self._load(scope, key_ids)
        for key_id, key in made.items():
            self._remember((scope, key_id), key)
        return made

    async def new_lead_key(self, lead_id: str) -> bytes:
        """Create a new lead's data key (committed at once: a key without a lead is harmless).

        Not looked up first: a new lead's id is a fresh UUIDv7, which no key has yet (were one
        there, :meth:`_create` would use it instead of replacing it).
        """
        return (await self.new_lead_keys([lead_id]))[lead_id]

    async def new_lead_keys(self, lead_ids: Iterable[str]) -> dict[str, bytes]:
        """Create several new leads' data keys in one key-store transaction, as
        :meth:`new_lead_key` does for one (webhook ingestion makes a batch's new leads)."""
        wanted = list(dict.fromkeys(lead_ids))
        return await self._create("lead", wanted) if wanted else {}

    def start_new_lead_keys(
        self, lead_ids: Iterable[str]
    ) -> tuple[dict[str, bytes], asyncio.Task[None]]:
        """New leads' keys at once, and the task storing them (one key-store transaction).

        For a caller that seals with the keys while they are stored and awaits the task
        before it commits anything sealed with them (webhook ingestion, whose statements to
        the main database then overlap the key store's commit): a key is still always stored
        before data sealed with it is. The ids must be new (fresh UUIDv7s); should a key exist
        already under one, the task fails (IntegrityError) instead of using that key, as data
        may already be sealed with the new one.
        """
        wanted = list(dict.fromkeys(lead_ids))
        made, rows = self._made("lead", wanted)

        async def store() -> None:
            if rows:
                await self._store(rows)
            for key_id, key in made.items():
                self._remember(("lead", key_id), key)

        return made, asyncio.get_running_loop().create_task(store(), name="new lead keys")

    async def lead_keys(self, lead_ids: Iterable[str]) -> dict[str, bytes]:
        """Data keys of several leads: the ones not cached are fetched with one query
        (:meth:`keys`); CryptoError if any was destroyed."""
        return await self.keys("lead", lead_ids)

    async def surviving_lead_keys(self, lead_ids: Iterable[str]) -> dict[str, bytes]:
        """Data keys of several leads in one query, leaving out those destroyed (a lead
        erased since the caller read it); nothing is created."""
        wanted = list(dict.fromkeys(lead_ids))
        found = {k: self._cache[("lead", k)] for k in wanted if ("lead", k) in self._cache}
        missing = [k for k in wanted if k not in found]
        if missing:
            found.update(await self._load("lead", missing))
        return found

    async def destroy(self, scope: str, key_id: str) -> None:
        """Destroy a data key for good: everything sealed with it becomes unreadable."""
        self._cache.pop((scope, key_id), None)
        async with self.engine.begin() as conn:
            await conn.execute(delete(DataKey).where(DataKey.scope == scope, DataKey.id == key_id))
        await self._empty_wal()

    async def destroy_before(self, scope: str, key_id: str, *, dry_run: bool = False) -> int:
        """Destroy every key of a scope whose id sorts before `key_id` (time-named keys)."""
        where = (DataKey.scope == scope) & (DataKey.id < key_id)
        async with self.engine.begin() as conn:
            count = int(await conn.scalar(select(func.count()).where(where)) or 0)
            if not dry_run and count:
                await conn.execute(delete(DataKey).where(where))
        for cached in [k for k in self._cache if k[0] == scope and k[1] < key_id]:
            self._cache.pop(cached, None)
        if count and not dry_run:
            await self._empty_wal()
        return count

    async def _empty_wal(self) -> None:
        """SQLite: copy the WAL into the file (zeroed rows included) and truncate it to 0 bytes.

        Waits (busy timeout) for readers of older snapshots; one still reading after that
        keeps the WAL until the next destroy or ``ovenai keys vacuum`` (logged).
        """
        if dialects.of_url(self.url) != "sqlite":
            return
        [(busy, *_)] = await self._sqlite_raw("PRAGMA wal_checkpoint(TRUNCATE)")
        if busy:
            log.warning("key store WAL still in use: run `ovenai keys vacuum` to empty it")

    async def vacuum(self) -> None:
        """Rewrite the key store so no destroyed key's bytes stay in its files (see above)."""
        if dialects.of_url(self.url) == "sqlite":
            await self._sqlite_raw("VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)")
            return
        async with self.engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(f"VACUUM FULL {DataKey.__tablename__}"))

    async def _sqlite_raw(self, *statements: str) -> list[tuple[Any, ...]]:
        """Run statements outside any transaction (the engine's `begin` would open one)."""

        def run(sync_conn: Any) -> list[tuple[Any, ...]]:
            cursor = sync_conn.connection.cursor()
            try:
                return [_first_row(cursor, statement) for statement in statements]
            finally:
                cursor.close()

        async with self.engine.connect() as conn:
            return await conn.run_sync(run)

    def forget_cache(self) -> None:
        """Drop every cached key (after erasure elsewhere, or in tests)."""
        self._cache.clear()

    def _remember(self, cache_key: tuple[str, str], key: bytes) -> None:
        self._cache[cache_key] = key
        self._cache.move_to_end(cache_key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def usage(self) -> dict[str, int]:
        """How many data keys each master key wraps."""
        query = select(DataKey.master_key_id, func.count()).group_by(DataKey.master_key_id)
        async with self._reader.connect() as conn:
            return {key_id: int(count) for key_id, count in (await conn.execute(query)).all()}

    async def rotate_batch(self, *, batch_size: int = 500) -> RotationStep:
        """Re-wrap one batch of data keys under the newest master key; safe to repeat.

        Each batch commits on its own, so a rotation killed halfway resumes where it stopped
        (the query selects only keys not yet under the newest master key), and the product
        keeps serving meanwhile: every key stays readable under either master key.
        """
        newest = self.ring.newest_id
        stale = select(DataKey).where(DataKey.master_key_id != newest)
        async with self.engine.begin() as conn:
            rows = (await conn.execute(stale.order_by(DataKey.id).limit(batch_size))).all()
            for row in rows:
                await conn.execute(_rewrapped(self.ring, row))
            remaining = await conn.scalar(select(func.count()).select_from(stale.subquery()))
        return RotationStep(rewrapped=len(rows), remaining=int(remaining or 0))

    def check_retirable(self, usage: dict[str, int], master_key_id: str) -> None:
        """Refuse to retire a master key that still wraps any data key."""
        if usage.get(master_key_id):
            raise Conflict(
                f"master key {master_key_id} still wraps {usage[master_key_id]} data keys; "
                "run `ovenai keys rotate` first"
            )


def _first_row(cursor: Any, statement: str) -> tuple[Any, ...]:
    cursor.execute(statement)
    return tuple(cursor.fetchone() or ())


def _rewrapped(ring: crypto.KeyRing, row: Any) -> Update:
    context = _context(row.scope, row.id)
    fresh = ring.rewrap(crypto.WrappedKey(row.master_key_id, row.wrapped), context=context)
    return (
        update(DataKey)
        .where(DataKey.scope == row.scope, DataKey.id == row.id)
        .values(master_key_id=fresh.key_id, wrapped=fresh.blob, rotated_at=utcnow())
    )
