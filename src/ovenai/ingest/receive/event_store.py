"""The webhook event store: verified bodies, sealed, committed before Meta gets its 200.

Each body is sealed under the key of the hour it arrived in
(:mod:`ovenai.ingest.receive.hour_keys`).

Acknowledgement speed comes from group commit: concurrent requests hand their sealed rows
to a writer thread (:mod:`ovenai.ingest.receive.batch_writer`), which writes whatever has
queued up with one executemany and one COMMIT, then releases every waiting request. Each
request still waits for its own row to be durable; under load, one commit serves many
requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import orjson
from sqlalchemy.exc import SQLAlchemyError

from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.errors import OvenAIError, ServiceUnavailable
from ovenai.ingest.receive.batch_writer import BatchWriter, Job
from ovenai.ingest.receive.hour_keys import KEY_SCOPE, key_bucket
from ovenai.metrics import WEBHOOK_STORE_LATENCY, WEBHOOK_STORED
from ovenai.sealing import WEBHOOK_EVENTS

log = logging.getLogger("ovenai.ingest.receive.event_store")

STORED_HEADERS = ("x-hub-signature-256", "content-type", "user-agent", "content-length")


def kept_headers(headers: Mapping[str, str]) -> str:
    """The request headers worth keeping, as JSON (no cookies, no authorization)."""
    kept = {name: headers[name] for name in STORED_HEADERS if name in headers}
    return orjson.dumps(kept).decode()


def _consume(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


@dataclass
class EventStore:
    """Seals verified bodies and stores them with group commit; ``on_stored`` after each."""

    db: Database
    on_stored: Callable[[], None] | None = None
    _writer: BatchWriter | None = None
    _keys: dict[str, bytes] = field(default_factory=dict)
    _key_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _sqlite: bool = False

    def __post_init__(self) -> None:
        self._writer = BatchWriter(self.db.url)
        self._sqlite = self._writer.sqlite

    async def store(self, raw: bytes, headers: Mapping[str, str]) -> str:
        """Seal and durably store one body; ServiceUnavailable if the database refuses."""
        started = time.perf_counter()
        event_id, row = await self._sealed_row(raw, headers)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        done.add_done_callback(_consume)  # a cancelled request must not leave an unread error
        assert self._writer is not None
        self._writer.submit(Job(row, done, loop))
        await asyncio.shield(done)
        WEBHOOK_STORED.inc()
        WEBHOOK_STORE_LATENCY.observe(time.perf_counter() - started)
        if self.on_stored is not None:
            self.on_stored()
        return event_id

    def close(self) -> None:
        """Write what is queued and stop the writer thread."""
        if self._writer is not None:
            self._writer.close()

    async def _sealed_row(
        self, raw: bytes, headers: Mapping[str, str]
    ) -> tuple[str, tuple[object, ...]]:
        event_id, now = new_id(), utcnow()
        bucket = key_bucket(now)
        key = self._keys.get(bucket) or await self._hour_key(bucket)
        sealed = WEBHOOK_EVENTS.cipher(key, event_id).seal_bytes("body", raw)
        # The row in COLUMNS order; SQLite keeps UTC as naive text, as UTCDateTime does, with
        # all six digits of the fraction: SQLite compares the text, and a body received on a
        # whole second stored without them sorted before that very second (`--since` missed it).
        when: object = (
            now.replace(tzinfo=None).isoformat(" ", "microseconds") if self._sqlite else now
        )
        row = (event_id, when, bucket, sealed, len(raw), kept_headers(headers), "pending", 0)
        return event_id, row

    async def _hour_key(self, bucket: str) -> bytes:
        # One fetch per hour, not one per waiting request: at start and at each new hour,
        # every request in flight would otherwise query the key store (seconds, measured).
        async with self._key_lock:
            key = self._keys.get(bucket)
            if key is not None:
                return key
            try:
                key = await self.db.vault.key(KEY_SCOPE, bucket, create=True)
            except (OvenAIError, SQLAlchemyError, OSError) as exc:
                raise ServiceUnavailable("the key store cannot be reached") from exc
            self._keys = {bucket: key}  # only the current hour is kept
            return key
