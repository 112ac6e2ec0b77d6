"""Keys for data at rest: per-lead data keys and the blind-index key, kept in the database.

Envelope encryption: each lead has its own 256-bit data key, stored wrapped by the newest
master key of the ring (`OVENAI_ENCRYPTION_KEYS`). Destroying a lead's wrapped key makes every
copy of its data unreadable (crypto-shredding). The blind-index key that makes encrypted
phones and BSUIDs findable is itself a stored, wrapped system key, so rotating master keys
never changes an index value.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import crypto
from ovenai.errors import CryptoError
from ovenai.models import LeadKey, SystemKey

BLIND_INDEX = "blind_index"


def _lead_context(lead_id: str) -> bytes:
    return b"lead-key:" + lead_id.encode()


def _system_context(purpose: str) -> bytes:
    return b"system-key:" + purpose.encode()


@dataclass(frozen=True)
class RowCipher:
    """Seals and opens the encrypted columns of one row with its lead's data key."""

    key: bytes
    table: str
    row_id: str

    def seal(self, column: str, text: str | None) -> bytes | None:
        """Encrypt a column value bound to this row and column."""
        return crypto.encrypt_text(self.key, text, aad=crypto.aad(self.table, self.row_id, column))

    def open(self, column: str, blob: bytes | None) -> str | None:
        """Decrypt a column value; raises CryptoError if it was tampered or moved."""
        return crypto.decrypt_text(self.key, blob, aad=crypto.aad(self.table, self.row_id, column))


class Vault:
    """The key ring plus a small cache of unwrapped lead keys."""

    def __init__(self, ring: crypto.KeyRing, *, cache_size: int = 4096) -> None:
        self.ring = ring
        self._index_key: bytes | None = None
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_size = cache_size

    async def start(self, session: AsyncSession) -> None:
        """Load (creating once) the blind-index key; call before any lookup."""
        row = await session.get(SystemKey, BLIND_INDEX)
        if row is None:
            row = await self._create_system_key(session, BLIND_INDEX)
        wrapped = crypto.WrappedKey(row.master_key_id, row.wrapped)
        self._index_key = self.ring.unwrap(wrapped, context=_system_context(BLIND_INDEX))

    async def _create_system_key(self, session: AsyncSession, purpose: str) -> SystemKey:
        wrapped = self.ring.wrap(crypto.new_data_key(), context=_system_context(purpose))
        row = SystemKey(purpose=purpose, master_key_id=wrapped.key_id, wrapped=wrapped.blob)
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:  # another process created it first: use theirs
            await session.rollback()
            existing = await session.get(SystemKey, purpose)
            assert existing is not None
            return existing
        return row

    def index(self, kind: str, value: str) -> str:
        """The blind index of a value (phone, bsuid, wa_id, name token)."""
        if self._index_key is None:
            raise CryptoError("the key store was not started")
        return crypto.blind_index(self._index_key, kind, value)

    def new_lead_key(self, session: AsyncSession, lead_id: str) -> bytes:
        """Create a lead's data key and add its wrapped form to the session."""
        key = crypto.new_data_key()
        wrapped = self.ring.wrap(key, context=_lead_context(lead_id))
        session.add(LeadKey(lead_id=lead_id, master_key_id=wrapped.key_id, wrapped=wrapped.blob))
        self._remember(lead_id, key)
        return key

    async def lead_key(self, session: AsyncSession, lead_id: str) -> bytes:
        """A lead's data key; CryptoError when it was destroyed (lead erased)."""
        keys = await self.lead_keys(session, [lead_id])
        return keys[lead_id]

    async def lead_keys(self, session: AsyncSession, lead_ids: Iterable[str]) -> dict[str, bytes]:
        """Data keys of several leads in one query."""
        wanted = list(dict.fromkeys(lead_ids))
        found = {lead_id: self._cache[lead_id] for lead_id in wanted if lead_id in self._cache}
        missing = [lead_id for lead_id in wanted if lead_id not in found]
        if missing:
            rows = await session.scalars(select(LeadKey).where(LeadKey.lead_id.in_(missing)))
            for row in rows:
                found[row.lead_id] = self._unwrap(row)
        for lead_id in wanted:
            if lead_id not in found:
                raise CryptoError(f"the data key of lead {lead_id} no longer exists")
        return found

    def _unwrap(self, row: LeadKey) -> bytes:
        key = self.ring.unwrap(
            crypto.WrappedKey(row.master_key_id, row.wrapped), context=_lead_context(row.lead_id)
        )
        self._remember(row.lead_id, key)
        return key

    def _remember(self, lead_id: str, key: bytes) -> None:
        self._cache[lead_id] = key
        self._cache.move_to_end(lead_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def forget(self, lead_id: str) -> None:
        """Drop a lead's key from the cache (after erasure)."""
        self._cache.pop(lead_id, None)
