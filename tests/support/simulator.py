"""Simulator fixtures shared by the client and simulator tests: the simulator on a loopback
port (one per session, reset before each test), its control API, a webhook receiver and a
real client pointed at it. Conftests import the fixtures they use from here."""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from ovenai.cloudapi import CloudApiClient
from ovenai.simulator import SimulatorConfig, SimulatorThread
from ovenai.simulator.testing import SimControl, WebhookReceiver

CONFIG = SimulatorConfig(
    access_token="test-token",
    phone_number_id="420000000000002",
    business_account_id="310000000000001",
    app_secret="test-app-secret",
    mps_cap=1000,
    status_delays=(0.01, 0.02, 0.03),
    template_review_s=None,
    webhook_retry_base_s=0.02,
    webhook_batch_wait_s=0.01,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread(CONFIG) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_simulator(simulator: SimulatorThread) -> None:
    request = urllib.request.Request(f"{simulator.base_url}/_sim/reset", method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def control(simulator: SimulatorThread, http: aiohttp.ClientSession) -> SimControl:
    return SimControl(simulator.base_url, http)


@pytest.fixture
async def client(simulator: SimulatorThread) -> AsyncIterator[CloudApiClient]:
    async with CloudApiClient(
        access_token=CONFIG.access_token,
        phone_number_id=CONFIG.phone_number_id,
        business_account_id=CONFIG.business_account_id,
        base_url=simulator.base_url,
        timeout=5.0,
    ) as made:
        yield made


@pytest.fixture
async def receiver(control: SimControl) -> AsyncIterator[WebhookReceiver]:
    listening = WebhookReceiver()
    await control.config(webhook_url=await listening.start())
    yield listening
    await listening.stop()
