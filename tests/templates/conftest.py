"""The registry's fixtures: a database per backend (root conftest), the simulator on
loopback with a real client, and a registry holding the eight seed templates."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ovenai import templates
from ovenai.db import Database
from ovenai.models import MessageTemplate
from ovenai.simulator import SimulatorConfig
from support.simulator import (  # noqa: F401  (fixtures used by these tests)
    client,
    control,
    fresh_simulator,
    http,
    simulator,
)

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
def sim_config() -> SimulatorConfig:
    """The simulator whose WABA is the test WABA (holding the eight seed templates)."""
    return CONFIG


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
