"""The simulator on loopback, settings pointing at it, leads and dispatchers to send with."""

from __future__ import annotations

import itertools
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from ovenai import templates
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database, utcnow
from ovenai.lead_fields import LeadCreate
from ovenai.leads import LeadRecord, add_lead, open_leads, seal_identity
from ovenai.models import Lead
from ovenai.outbox import queue
from ovenai.outbox.dispatcher import DispatchConfig, Dispatcher
from ovenai.outbox.limits import DatabaseBuckets
from ovenai.outbox.retry import RetryPolicy
from ovenai.settings import Settings
from ovenai.simulator import SimulatorConfig, SimulatorThread
from ovenai.simulator.testing import SimControl

TOKEN = "outbox-test-token"
PHONE_ID = "100000000000001"
WABA_ID = "200000000000001"
SIM = SimulatorConfig(
    access_token=TOKEN,
    phone_number_id=PHONE_ID,
    business_account_id=WABA_ID,
    mps_cap=None,
    statuses=False,
    template_review_s=None,
)
FAST_RETRY = RetryPolicy(base_s=0.0, cap_s=0.0, max_attempts=3, throttle_base_s=0.0)
_numbers = itertools.count(1000)


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread(SIM) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_simulator(simulator: SimulatorThread) -> None:
    request = urllib.request.Request(f"{simulator.base_url}/_sim/reset", method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


@pytest.fixture
def sim_settings(clean_db: Settings, simulator: SimulatorThread) -> Settings:
    """The session's settings, sending to the simulator."""
    return clean_db.model_copy(
        update={
            "whatsapp_access_token": SecretStr(TOKEN),
            "whatsapp_phone_number_id": PHONE_ID,
            "whatsapp_business_account_id": WABA_ID,
            "whatsapp_api_base_url": simulator.base_url,
            "messaging_tier": "unlimited",
        }
    )


@pytest.fixture
async def control(simulator: SimulatorThread) -> AsyncIterator[SimControl]:
    async with aiohttp.ClientSession() as http:
        yield SimControl(simulator.base_url, http)


@pytest.fixture
async def client(simulator: SimulatorThread) -> AsyncIterator[CloudApiClient]:
    async with CloudApiClient(
        access_token=TOKEN, phone_number_id=PHONE_ID, base_url=simulator.base_url, timeout=5.0
    ) as made:
        yield made


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


def dispatcher(db: Database, client: CloudApiClient, **changes: Any) -> Dispatcher:
    """A dispatcher on database buckets."""
    return Dispatcher(db, client, DatabaseBuckets(db), config(**changes))


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
    """A lead (phone, or BSUID only), who last wrote at ``wrote_at``."""
    async with db.session() as session:
        data = LeadCreate(name=name, phone=phone or new_phone(), language=language)
        lead = await add_lead(session, db.vault, actor=Actor.system(), data=data)
        if bsuid is not None:
            key = await db.vault.key("lead", lead.id)
            seal_identity(db.vault, lead, key, {"phone": None, "wa_id": None, "bsuid": bsuid})
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
