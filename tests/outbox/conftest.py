"""The simulator on loopback, settings pointing at it, leads and dispatchers to send with."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ovenai import templates
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.lead_fields import LeadCreate
from ovenai.leads import LeadRecord, add_lead, open_leads, seal_identity
from ovenai.models import Lead
from ovenai.outbox import claims, queue
from ovenai.outbox.bucket_store import DatabaseBuckets
from ovenai.outbox.dispatch_config import DispatchConfig
from ovenai.outbox.dispatcher import Dispatcher
from ovenai.outbox.retry import RetryPolicy
from ovenai.sealing import LeadColumn
from ovenai.simulator import SimulatorConfig
from support.migrations import blank_url  # noqa: F401  (a fixture of these tests)
from support.simulator import (  # noqa: F401  (fixtures used by these tests)
    client,
    control,
    fresh_simulator,
    http,
    reset_before_each_test,
    sim_settings,
    simulator,
)

TOKEN = "outbox-test-token"
PHONE_ID = "100000000000001"
WABA_ID = "200000000000001"
SIM = SimulatorConfig(
    access_token=TOKEN,
    app_secret="test-app-secret",  # the live server's (tests/conftest.py): webhooks reach it
    phone_number_id=PHONE_ID,
    business_account_id=WABA_ID,
    mps_cap=None,
    statuses=False,
    template_review_s=None,
)
FAST_RETRY = RetryPolicy(base_s=0.0, cap_s=0.0, max_attempts=3, throttle_base_s=0.0)
_numbers = itertools.count(1000)


@pytest.fixture(autouse=True)
def fresh_claim_statement() -> None:
    """Each test builds the claim statement from the code as it is: the statement is cached
    for the process (``claims.claim_statement``), and a mutation run (docs/testing.md) changes
    the code that builds it between tests of one process."""
    claims.claim_statement.cache_clear()


@pytest.fixture(scope="session")
def sim_config() -> SimulatorConfig:
    """The simulator these tests send to: no throughput cap, no status webhooks."""
    return SIM


@pytest.fixture
async def seeded(db: Database) -> Database:
    """The database with the eight seed templates approved."""
    async with db.session() as session:
        await templates.load_seed(session, waba_id=WABA_ID)
        await session.commit()
    return db


def config(**changes: Any) -> DispatchConfig:
    """A dispatcher configuration for tests: no throughput cap worth noticing, fast retries."""
    values: dict[str, Any] = {
        "phone_number_id": PHONE_ID,
        "portfolio": WABA_ID,
        "messages_per_second": 1000.0,
        "pair_interval_s": 0.001,
        "pair_burst": 45,
        "messaging_limit": None,
        "policy": FAST_RETRY,
        "poll_s": 0.05,
    }
    return DispatchConfig(**(values | changes))


def dispatcher(db: Database, api: CloudApiClient, **changes: Any) -> Dispatcher:
    """A dispatcher on database buckets, sending with ``api``."""
    return Dispatcher(db, api, DatabaseBuckets(db), config(**changes))


def new_phone() -> str:
    """A unique, valid Israeli mobile number."""
    return f"+97250{next(_numbers) * 7919 % 10_000_000:07d}"


async def make_lead(
    db: Database,
    *,
    phone: str | None = None,
    bsuid: str | None = None,
    language: str = "he",
    wrote_at: datetime | None = None,
    opted_out: bool = False,
    name: str = "נועה כהן",
) -> LeadRecord:
    """A lead (a phone; a BSUID only; or a BSUID and the phone given), who last wrote at
    ``wrote_at``."""
    async with db.session() as session:
        # Opted in: a basis for marketing (ovenai.consent), so marketing sends may be tested.
        data = LeadCreate(name=name, phone=phone or new_phone(), language=language, opted_in=True)
        lead = await add_lead(session, db.vault, actor=Actor.system(), data=data)
        if bsuid is not None:
            key = await db.vault.key("lead", lead.id)
            numbers: dict[LeadColumn, str | None] = {} if phone else {"phone": None, "wa_id": None}
            seal_identity(db.vault, lead, key, {"bsuid": bsuid, **numbers})
        lead.last_inbound_at = wrote_at
        lead.opted_out_at = utcnow() if opted_out else None
        await session.commit()
        (record,) = await open_leads(db.vault, [lead])
    return record


def recently() -> datetime:
    """A moment inside the 24-hour window."""
    return utcnow() - timedelta(hours=1)


async def reload(db: Database, lead_id: str) -> Lead:
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        return lead


async def send(db: Database, lead_id: str, **request: Any) -> queue.QueuedMessage:
    """Queue a message to a lead as the system would (``request``: OutboundRequest fields)."""
    return await queue.send_message(
        db,
        actor=Actor.system(),
        lead_id=lead_id,
        request=queue.OutboundRequest(**request),
        waba_id=WABA_ID,
        zone=UTC,
    )


@pytest.fixture
def db(worker_db: Database) -> Database:
    """On SQLite each test runs twice: through aiosqlite (serve) and inline (the worker)."""
    return worker_db
