"""The default automation rules in a test database, for tests that drive the product from
outside (HTTP, pages) and so have no database handle of their own."""

from __future__ import annotations

from ovenai import automation
from ovenai.db import open_database
from ovenai.settings import Settings
from support.aio import run_async


def seed_default_rules(settings: Settings) -> None:
    """Add the default rules (``default_rules.yaml``) to the settings' database."""

    async def work() -> None:
        db = open_database(settings)
        try:
            await db.start()
            await automation.seed_rules(db)
        finally:
            await db.dispose()

    run_async(work)
