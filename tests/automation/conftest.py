"""Automation tests: the seed templates and the default rules in the test database, and the
rules installed in this process as serve and the worker install them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from ingest.conftest import WABA, Harness
from ovenai import automation, reactions, templates
from ovenai.conversations import MessageRecord, open_message
from ovenai.db import Database
from ovenai.models import AutomationFiring, AutomationRule, Direction, Message
from ovenai.settings import Settings
from support.simulator import (  # noqa: F401  (fixtures of the end-to-end tests)
    client,
    control,
    fresh_simulator,
    http,
    sim_config,
    simulator,
)


@pytest.fixture
def automation_settings(settings: Settings) -> Settings:
    """The test settings with the business account the seed templates are loaded for."""
    return settings.model_copy(update={"whatsapp_business_account_id": WABA})


@pytest.fixture
async def automated(db: Database, automation_settings: Settings) -> AsyncIterator[Database]:
    """The seed templates, the default rules, and the rules running in this process."""
    async with db.session() as session:
        await templates.load_seed(session, waba_id=WABA)
        await session.commit()
    await automation.seed_rules(db)
    # As in serve and the worker (consent, score, rules); ending it gives the session's
    # server its own back.
    reactions.install(automation_settings, db.vault)
    yield db
    reactions.uninstall(db.vault)


@pytest.fixture
def harness(automated: Database) -> Harness:
    """Stores webhook bodies and drains them through the real processor."""
    return Harness(automated)


async def sent_to(db: Database, lead_id: str) -> list[tuple[Message, MessageRecord]]:
    """The outbound messages of a lead, oldest first, with their opened text."""
    async with db.session() as session:
        rows = list(
            await session.scalars(
                select(Message)
                .where(Message.lead_id == lead_id, Message.direction == Direction.OUTBOUND)
                .order_by(Message.created_at, Message.id)
            )
        )
    key = await db.vault.key("lead", lead_id)
    return [(row, open_message(row, key)) for row in rows]


async def firings(db: Database, lead_id: str) -> list[tuple[str, str, str]]:
    """(rule key, outcome, detail) of a lead's firings, oldest first."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(AutomationRule.key, AutomationFiring.outcome, AutomationFiring.detail)
                .join(AutomationRule, AutomationRule.id == AutomationFiring.rule_id)
                .where(AutomationFiring.lead_id == lead_id)
                .order_by(AutomationFiring.at, AutomationFiring.id)
            )
        ).all()
    return [(key, outcome, detail) for key, outcome, detail in rows]
