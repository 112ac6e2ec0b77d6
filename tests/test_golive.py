"""Going live against two simulators, one playing the test account (everything set up) and
one a fresh production account (number unregistered, no app subscribed, no templates):
`golive check` names each gap with its fix, `subscribe` and `register` close two, the
templates move from test to production, and the smoke test's statuses come back through
the webhook to a running serve."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ovenai import golive, templates
from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.errors import InvalidInput
from ovenai.settings import Settings
from ovenai.simulator import SimulatorConfig, SimulatorThread
from support.simulator_http import post_control
from test_cli import run

pytestmark = pytest.mark.anyio
TEST = SimulatorConfig(
    access_token="test-account-token",
    phone_number_id="420000000000031",
    business_account_id="310000000000031",
    app_secret="test-app-secret",  # the live server's (tests/conftest.py)
    template_review_s=None,
    status_delays=(0.01, 0.02, 0.03),
)
PRODUCTION = SimulatorConfig(
    access_token="production-token",
    phone_number_id="420000000000032",
    business_account_id="310000000000032",
    app_secret="test-app-secret",
    template_review_s=None,
    status_delays=(0.01, 0.02, 0.03),
    verified_name="Haifa Homes",
    registered=False,
    app_subscribed=False,
    seed_templates=False,
)


@pytest.fixture(scope="module")
def accounts() -> Iterator[tuple[SimulatorThread, SimulatorThread]]:
    with SimulatorThread(TEST) as test, SimulatorThread(PRODUCTION) as production:
        yield test, production


@pytest.fixture
def fresh(accounts: tuple[SimulatorThread, SimulatorThread]) -> tuple[str, str]:
    """Both accounts back at their start: their base URLs."""
    for each in accounts:
        post_control(each.base_url, "reset")
    return accounts[0].base_url, accounts[1].base_url


def _settings(base: Settings, config: SimulatorConfig, url: str) -> Settings:
    return base.model_copy(
        update={
            "whatsapp_access_token": SecretStr(config.access_token),
            "whatsapp_phone_number_id": config.phone_number_id,
            "whatsapp_business_account_id": config.business_account_id,
            "whatsapp_api_base_url": url,
            "public_url": "https://crm.haifa-homes.example",
        }
    )


def _client(config: SimulatorConfig, url: str, token: str | None = None) -> CloudApiClient:
    return CloudApiClient(
        access_token=token or config.access_token,
        phone_number_id=config.phone_number_id,
        business_account_id=config.business_account_id,
        base_url=url,
        timeout=5.0,
    )


def _by_name(items: list[golive.Item]) -> dict[str, golive.Item]:
    return {item.name: item for item in items}


@pytest.fixture
async def production(
    fresh: tuple[str, str], clean_db: Settings
) -> AsyncIterator[tuple[Settings, CloudApiClient]]:
    settings = _settings(clean_db, PRODUCTION, fresh[1])
    async with _client(PRODUCTION, fresh[1]) as client:
        yield settings, client


async def test_a_fresh_production_account_is_checked_fixed_and_ready_on_the_graph_side(
    production: tuple[Settings, CloudApiClient],
    fresh: tuple[str, str],
    db: Database,
    tmp_path: Path,
) -> None:
    settings, client = production
    first = _by_name(await golive.check(settings, client))
    assert first["access token"].state is golive.State.OK
    assert first["permissions"].state is golive.State.OK
    assert first["phone number"].state is golive.State.OK
    assert "Haifa Homes" in first["phone number"].detail
    assert first["webhook URL"].detail.startswith(
        "https://crm.haifa-homes.example/api/webhooks/whatsapp"
    )
    assert first["registration"].state is golive.State.FAIL
    assert first["registration"].fix == "ovenai golive register --pin NNNNNN"
    assert first["webhook subscription"].state is golive.State.FAIL
    assert first["webhook subscription"].fix == "ovenai golive subscribe"
    assert first["templates"].state is golive.State.FAIL
    assert "missing: welcome_new_lead_he" in first["templates"].detail
    # The test database is SQLite or a development environment: named, not hidden.
    assert any(name.startswith("configuration: ") for name in first)
    assert not golive.ready(list(first.values()))

    assert await golive.subscribe(settings, client)
    with pytest.raises(InvalidInput, match="six digits"):
        await golive.register(settings, "12345", client)
    assert await golive.register(settings, "123456", client)
    async with _client(TEST, fresh[0]) as test_client:  # the test account's templates
        await templates.sync(db, test_client, TEST.business_account_id)
    exported = tmp_path / "templates.json"
    assert await templates.export(db, TEST.business_account_id, exported) == 8
    report = await templates.import_(db, client, exported, PRODUCTION.business_account_id)
    assert len(report.submitted) == 8
    post_control(fresh[1], "templates/review", {"status": "APPROVED"})

    after = _by_name(await golive.check(settings, client))
    graph_side = [name for name in after if not name.startswith("configuration")]
    assert {name: after[name].state for name in graph_side} == dict.fromkeys(
        graph_side, golive.State.OK
    )
    assert after["templates"].detail == "all 8 seed templates approved"


async def test_a_refused_token_fails_the_check_and_stops_it_there(
    fresh: tuple[str, str], clean_db: Settings
) -> None:
    settings = _settings(clean_db, PRODUCTION, fresh[1])
    async with _client(PRODUCTION, fresh[1], token="not-the-token") as client:
        items = _by_name(await golive.check(settings, client))
    assert items["access token"].state is golive.State.FAIL
    assert "WHATSAPP_ACCESS_TOKEN" in (items["access token"].fix or "")
    assert items["templates"].detail == "not checked: Meta refused the token"


async def test_the_smoke_test_sees_its_statuses_come_back_through_the_webhook(
    fresh: tuple[str, str], clean_db: Settings, db: Database, server: Any
) -> None:
    post_control(fresh[0], "config", {"webhook_url": f"{server.url}/api/webhooks/whatsapp"})
    settings = _settings(clean_db, TEST, fresh[0])  # the configured number's client
    report = await golive.smoke(db, settings, to="050-123-4567", wait_s=20, poll_s=0.05)
    assert report.delivered and not report.failed
    assert "delivered" in {status for status, _, _ in report.statuses}
    assert report.wamid.startswith("wamid.")


def test_the_commands_print_the_checklist_and_fix_the_account(
    fresh: tuple[str, str], clean_db: Settings
) -> None:
    env = {
        "WHATSAPP_ACCESS_TOKEN": PRODUCTION.access_token,
        "WHATSAPP_PHONE_NUMBER_ID": PRODUCTION.phone_number_id,
        "WHATSAPP_BUSINESS_ACCOUNT_ID": PRODUCTION.business_account_id,
        "WHATSAPP_API_BASE_URL": fresh[1],
        "OVENAI_PUBLIC_URL": "https://crm.haifa-homes.example",
    }
    checked = run(clean_db, "golive", "check", env=env)
    assert checked.returncode == 1, checked.stderr
    assert "[FAIL] registration: status PENDING, platform NOT_APPLICABLE" in checked.stdout
    assert "fix: ovenai golive register --pin NNNNNN" in checked.stdout
    assert "[ok  ] access token: valid" in checked.stdout
    assert run(clean_db, "golive", "subscribe", env=env).returncode == 0
    registered = run(clean_db, "golive", "register", "--pin", "123456", env=env)
    assert registered.stdout.strip() == "the number is registered with the Cloud API"
    again = run(clean_db, "golive", "check", env=env).stdout
    assert "[ok  ] registration" in again and "[ok  ] webhook subscription" in again
    refused = run(clean_db, "golive", "register", "--pin", "12", env=env)
    assert refused.returncode != 0 and "six digits" in refused.stderr
