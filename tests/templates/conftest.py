"""The registry's fixtures: a database per backend (root conftest), the simulator on
loopback with a real client, and a registry holding the eight seed templates."""

from __future__ import annotations

import functools
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest

from ovenai import templates
from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.models import MessageTemplate
from ovenai.simulator import SimulatorConfig, SimulatorThread
from ovenai.simulator.testing import SimControl

TEST_WABA = "310000000000001"
PRODUCTION_WABA = "310000000000999"
CONFIG = SimulatorConfig(
    access_token="registry-token",
    phone_number_id="420000000000002",
    business_account_id=TEST_WABA,
    app_secret="registry-app-secret",
    template_review_s=None,
)


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread(CONFIG) as running:
        yield running


@pytest.fixture
def fresh_simulator(simulator: SimulatorThread) -> SimulatorThread:
    """The simulator back at its start: the test WABA holds the eight seed templates."""
    request = urllib.request.Request(f"{simulator.base_url}/_sim/reset", method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200
    return simulator


@pytest.fixture
async def client(fresh_simulator: SimulatorThread) -> AsyncIterator[CloudApiClient]:
    async with CloudApiClient(
        access_token=CONFIG.access_token,
        phone_number_id=CONFIG.phone_number_id,
        business_account_id=TEST_WABA,
        base_url=fresh_simulator.base_url,
        timeout=5.0,
    ) as made:
        yield made


@pytest.fixture
async def control(fresh_simulator: SimulatorThread) -> AsyncIterator[SimControl]:
    async with aiohttp.ClientSession() as http:
        yield SimControl(fresh_simulator.base_url, http)


@pytest.fixture
async def seeded(db: Database) -> Database:
    """The registry holding the eight seed templates of the test WABA."""
    async with db.session() as session:
        await templates.load_seed(session, waba_id=TEST_WABA)
        await session.commit()
    return db


AddTemplate = Callable[..., Awaitable[MessageTemplate]]


@pytest.fixture
def add_template(db: Database) -> AddTemplate:
    """Put one template in the registry (defaults: an approved Hebrew utility template)."""
    return functools.partial(_add_template, db)


async def _add_template(db: Database, **fields: Any) -> MessageTemplate:
    values: dict[str, Any] = {
        "waba_id": TEST_WABA,
        "language": "he",
        "category": "UTILITY",
        "status": "APPROVED",
        "parameter_format": "POSITIONAL",
        "components": [{"type": "BODY", "text": "שלום {{1}}"}],
        **fields,
    }
    values.setdefault("family", templates.family_of(values["name"]))
    row = MessageTemplate(**values)
    async with db.session() as session:
        session.add(row)
        await session.commit()
    return row
