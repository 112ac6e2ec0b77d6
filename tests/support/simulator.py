"""Simulator fixtures, defined once for every test package that talks to the simulator.

The simulator runs on a loopback port, one per session and package. A package picks its
configuration by overriding :func:`sim_config` in its conftest and imports the fixtures it
uses from here. :func:`fresh_simulator` puts the simulator back at its start; a package (or
module) that wants that before every test also imports :func:`reset_before_each_test`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from pydantic import SecretStr

from ovenai.cloudapi import CloudApiClient
from ovenai.settings import Settings
from ovenai.simulator import SimulatorConfig, SimulatorThread
from support.simulator_http import SimControl, WebhookReceiver, post_control

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


@pytest.fixture(scope="session")
def sim_config() -> SimulatorConfig:
    """The simulator's configuration; a conftest overrides this fixture to give its own."""
    return CONFIG


@pytest.fixture(scope="session")
def simulator(sim_config: SimulatorConfig) -> Iterator[SimulatorThread]:
    """The simulator serving on loopback for the whole session."""
    with SimulatorThread(sim_config) as running:
        yield running


@pytest.fixture
def fresh_simulator(simulator: SimulatorThread) -> SimulatorThread:
    """The simulator back at its configured start (templates re-seeded, nothing sent)."""
    post_control(simulator.base_url, "reset")
    return simulator


@pytest.fixture(autouse=True)
def reset_before_each_test(fresh_simulator: SimulatorThread) -> None:
    """Reset the simulator before every test of the importing package or module."""


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client session."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def control(fresh_simulator: SimulatorThread, http: aiohttp.ClientSession) -> SimControl:
    """The simulator's control API."""
    return SimControl(fresh_simulator.base_url, http)


@pytest.fixture
async def client(
    fresh_simulator: SimulatorThread, sim_config: SimulatorConfig
) -> AsyncIterator[CloudApiClient]:
    """A real Cloud API client of the simulator's business number."""
    async with CloudApiClient(
        access_token=sim_config.access_token,
        phone_number_id=sim_config.phone_number_id,
        business_account_id=sim_config.business_account_id,
        base_url=fresh_simulator.base_url,
        timeout=5.0,
    ) as made:
        yield made


@pytest.fixture
async def receiver(control: SimControl) -> AsyncIterator[WebhookReceiver]:
    """A loopback webhook receiver the simulator delivers to."""
    listening = WebhookReceiver()
    await control.config(webhook_url=await listening.start())
    yield listening
    await listening.stop()


@pytest.fixture
def sim_settings(
    clean_db: Settings, fresh_simulator: SimulatorThread, sim_config: SimulatorConfig
) -> Settings:
    """The session's settings (root conftest), sending to the simulator on an unlimited tier."""
    return clean_db.model_copy(
        update={
            "whatsapp_access_token": SecretStr(sim_config.access_token),
            "whatsapp_phone_number_id": sim_config.phone_number_id,
            "whatsapp_business_account_id": sim_config.business_account_id,
            "whatsapp_api_base_url": fresh_simulator.base_url,
            "messaging_tier": "unlimited",
        }
    )
