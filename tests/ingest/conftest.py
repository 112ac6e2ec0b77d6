"""Fixtures for webhook ingestion: recorded-style payloads as raw bytes (``fixtures/``), a
harness that stores bodies and drains them, and builders of Meta-shaped bodies (escaped
like Meta's encoder: non-ASCII as \\uXXXX)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from conftest import LiveServer
from ovenai import events
from ovenai.columns import new_id, utcnow
from ovenai.conversations import MessageRecord, open_message
from ovenai.db import Database
from ovenai.ingest.parse.body_parser import parse_webhook
from ovenai.ingest.processor import Processor, Report
from ovenai.ingest.receive.event_store import EventStore
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign
from ovenai.leads import LeadRecord, find_by_identity, open_leads
from ovenai.models import Lead, Message, WebhookEvent
from support.migrations import blank_url  # noqa: F401  (a fixture of these tests)

APP_SECRET = "test-app-secret"  # tests/conftest.py TEST_APP_SECRET
VERIFY_TOKEN = "test-verify-token"
WABA = "310000000000001"
PHONE_ID = "420000000000002"
FIXTURES = Path(__file__).parent / "fixtures"


def read_payload(name: str) -> bytes:
    """Return a fixture's exact bytes, as Meta would POST them."""
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def load_payload() -> Callable[[str], bytes]:
    """Load a fixture from tests/ingest/fixtures as raw bytes."""
    return read_payload


@pytest.fixture
def events_of() -> Callable[[str], list[events.WebhookEvent]]:
    """Parse a fixture into its events."""
    return lambda name: parse_webhook(read_payload(name))


def envelope(value: dict[str, Any], field: str = "messages") -> bytes:
    """A one-change webhook body, with every non-ASCII character escaped as Meta does."""
    value = {"messaging_product": "whatsapp", **value}
    value.setdefault(
        "metadata", {"display_phone_number": "97233760000", "phone_number_id": PHONE_ID}
    )
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "changes": [{"value": value, "field": field}]}],
    }
    return json.dumps(body).replace("/", "\\/").encode()


def status_item(wamid: str, status: str, ts: int, code: int | None = None) -> dict[str, Any]:
    """One ``statuses[]`` item; ``code`` adds Meta's error (for ``failed``)."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(ts),
        "recipient_id": "972521234567",
    }
    if code is not None:
        item["errors"] = [
            {
                "code": code,
                "title": f"error {code}",
                "message": f"error {code}",
                "error_data": {"details": f"details of {code}"},
            }
        ]
    return item


def status_body(*items: dict[str, Any]) -> bytes:
    """A body carrying these statuses."""
    return envelope({"statuses": list(items)})


def text_body(
    wamid: str,
    text: str,
    *,
    wa_id: str = "972521234567",
    user_id: str | None = "IL.5550001112223334445",
    name: str = "Noa",
    ts: int = 1767000000,
    **extra: Any,
) -> bytes:
    """A body carrying one text message from a user."""
    contact: dict[str, Any] = {"profile": {"name": name}, "wa_id": wa_id}
    if user_id:
        contact["user_id"] = user_id
    message = {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(ts),
        "type": "text",
        "text": {"body": text},
        **extra,
    }
    return envelope({"contacts": [contact], "messages": [message]})


def signed(raw: bytes) -> dict[str, str]:
    """Headers Meta would send with these exact bytes."""
    return {SIGNATURE_HEADER: sign(raw, APP_SECRET), "Content-Type": "application/json"}


class Harness:
    """Stores bodies as the route does and drains them as the processor does."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.store = EventStore(db)
        self.processor = Processor(db)

    async def keep(self, raw: bytes) -> str:
        """Store one body (no processing)."""
        return await self.store.store(raw, {"x-hub-signature-256": sign(raw, APP_SECRET)})

    async def deliver(self, *bodies: bytes) -> Report:
        """Store bodies, then drain until each is settled.

        The test session's live server runs its own processor against the same database,
        and may claim a body first: wait until every stored body left `pending`, whoever
        applied it, so assertions never race that other processor.
        """
        ids = [await self.keep(raw) for raw in bodies]
        return await self.settle(ids)

    async def settle(self, ids: list[str]) -> Report:
        """Drain until none of these stored bodies is pending; this processor's report.

        A body whose apply raised stays pending, its error kept, to be tried again after a
        backoff (2 s, then 4 s ...): one that failed twice fails the test at once with its
        error, rather than after the 15 s a body may take to be processed.
        """
        report = await self.processor.drain()
        deadline = time.monotonic() + 15
        while pending := await self._pending(ids):
            failing = [error for attempts, error in pending if attempts >= 2 and error]
            assert not failing, f"stored bodies failed twice: {failing}"
            assert time.monotonic() < deadline, f"stored bodies were never processed: {pending}"
            await asyncio.sleep(0.05)
            await self.processor.drain()
        return report

    async def _pending(self, ids: list[str]) -> list[tuple[int, str | None]]:
        """The attempts and kept error of each of these bodies still pending."""
        async with self.db.session() as session:
            query = select(WebhookEvent.attempts, WebhookEvent.error).where(
                WebhookEvent.id.in_(ids), WebhookEvent.status == "pending"
            )
            return [(row.attempts, row.error) for row in await session.execute(query)]

    async def lead(
        self, *, wa_id: str | None = None, bsuid: str | None = None, phone: str | None = None
    ) -> LeadRecord | None:
        async with self.db.session() as session:
            lead = await find_by_identity(
                session, self.db.vault, bsuid=bsuid, wa_id=wa_id, phone=phone
            )
            return None if lead is None else (await open_leads(self.db.vault, [lead]))[0]

    async def leads(self) -> list[Lead]:
        async with self.db.session() as session:
            return list(await session.scalars(select(Lead)))

    async def conversation(self, lead_id: str) -> list[MessageRecord]:
        async with self.db.session() as session:
            query = select(Message).where(Message.lead_id == lead_id).order_by(Message.created_at)
            rows = list(await session.scalars(query))
        key = await self.db.vault.key("lead", lead_id)
        return [open_message(row, key) for row in rows]

    async def payload(self, wamid: str) -> dict[str, Any]:
        async with self.db.session() as session:
            row = await session.scalar(select(Message).where(Message.wa_message_id == wamid))
        assert row is not None
        from ovenai.sealing import MESSAGES

        key = await self.db.vault.key("lead", row.lead_id)
        loaded: dict[str, Any] = json.loads(MESSAGES.open_from(row, key, "payload") or "{}")
        return loaded

    async def message(self, wamid: str) -> Message:
        async with self.db.session() as session:
            row = await session.scalar(select(Message).where(Message.wa_message_id == wamid))
        assert row is not None, f"no message {wamid}"
        return row

    async def outbound(self, wamid: str | None, lead_id: str | None = None) -> str:
        """An outbound message as the outbox leaves it after Meta accepted it."""
        async with self.db.session() as session:
            if lead_id is None:
                lead = Lead(id=new_id(), source="manual")
                await self.db.vault.new_lead_key(lead.id)
                session.add(lead)
                await session.flush()
                lead_id = lead.id
            message = Message(
                id=new_id(),
                lead_id=lead_id,
                direction="outbound",
                type="text",
                wa_message_id=wamid,
                status="sending",
                status_at=utcnow(),
            )
            session.add(message)
            await session.commit()
            return message.id

    async def events(self) -> list[WebhookEvent]:
        async with self.db.session() as session:
            return list(
                await session.scalars(select(WebhookEvent).order_by(WebhookEvent.received_at))
            )


@pytest.fixture
async def harness(db: Database) -> AsyncIterator[Harness]:
    made = Harness(db)
    yield made
    await made.processor.stop()
    made.store.close()


@pytest.fixture
def meta(server: Any) -> Iterator[httpx.Client]:
    """An HTTP client posting to the live product as Meta would."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


class Bodies:
    """The body builders above, for tests (conftest modules are not importable)."""

    envelope = staticmethod(envelope)
    status = staticmethod(status_item)
    statuses = staticmethod(status_body)
    text = staticmethod(text_body)
    signed = staticmethod(signed)


@pytest.fixture
def bodies() -> type[Bodies]:
    return Bodies


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an app with uvicorn on a free loopback port in a thread; yields its URL."""
    with LiveServer(app) as live:
        yield live.url


@pytest.fixture
def serve() -> Any:
    """Start another instance of an app on loopback (a restarted process)."""
    return serving


@pytest.fixture
def db(worker_db: Database) -> Database:
    """On SQLite each test runs twice: through aiosqlite (serve) and inline (the worker)."""
    return worker_db
