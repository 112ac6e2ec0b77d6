"""The receiving end as one object: checks, the event store and the in-process processor.

The web routes call :meth:`Receiver.accept` and :meth:`Receiver.verify`; the app's
lifespan calls :meth:`Receiver.start` and :meth:`Receiver.stop`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass

from ovenai.db import Database
from ovenai.errors import InvalidInput, ServiceUnavailable
from ovenai.ingest.errors import InvalidSignature
from ovenai.ingest.processor import Processor
from ovenai.ingest.receive.event_store import EventStore
from ovenai.ingest.receive.intake import (
    BodyTooLarge,
    check_body,
    count_rejection,
    handshake,
    read_capped,
)
from ovenai.ingest.receive.signature import SIGNATURE_HEADER
from ovenai.metrics import WEBHOOK_RECEIVED
from ovenai.settings import Settings


@dataclass
class Receiver:
    """Verifies, stores and (in this process) processes Meta's webhooks."""

    store: EventStore
    processor: Processor | None
    app_secret: str
    verify_token: str

    async def accept(self, chunks: AsyncIterable[bytes], headers: Mapping[str, str]) -> str:
        """Check and durably store one POST; returns the stored event's id.

        Raises BodyTooLarge (413), InvalidSignature (401), MalformedPayload (400) or
        ServiceUnavailable (503); each is counted by reason and nothing is stored.
        """
        WEBHOOK_RECEIVED.inc()
        try:
            raw = await read_capped(chunks, headers.get("content-length"))
            check_body(raw, headers.get(SIGNATURE_HEADER.lower()), self.app_secret)
            return await self.store.store(raw, headers)
        except BodyTooLarge:
            count_rejection("too_large")
            raise
        except InvalidSignature:
            count_rejection("signature")
            raise
        except InvalidInput:
            count_rejection("malformed")
            raise
        except ServiceUnavailable:
            count_rejection("unavailable")
            raise

    def verify(self, mode: str | None, token: str | None, challenge: str | None) -> str:
        """Answer Meta's verification handshake (PermissionDenied when it does not match)."""
        return handshake(mode, token, challenge, self.verify_token)

    def start(self) -> None:
        """Start processing in this process (it drains what is pending first)."""
        if self.processor is not None:
            self.processor.start()

    async def stop(self) -> None:
        """Stop processing; stored bodies stay for the next start or the worker."""
        if self.processor is not None:
            await self.processor.stop()
        await asyncio.to_thread(self.store.close)


def open_receiver(settings: Settings, db: Database, *, process: bool = True) -> Receiver:
    """The receiver for these settings (no app secret configured: every POST is refused)."""
    processor = Processor(db) if process else None
    store = EventStore(db, on_stored=processor.wake if processor is not None else None)
    return Receiver(
        store=store,
        processor=processor,
        app_secret=_plain(settings, "whatsapp_app_secret"),
        verify_token=_plain(settings, "whatsapp_webhook_verify_token"),
    )


def _plain(settings: Settings, name: str) -> str:
    value = getattr(settings, name)
    return "" if value is None else str(value.get_secret_value())
