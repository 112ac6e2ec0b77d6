"""The eight seed templates loaded into a test database, as `make run` loads them."""

from __future__ import annotations

from ovenai import templates
from ovenai.db import open_database
from ovenai.settings import Settings
from support.aio import run_async


def seed_templates(settings: Settings) -> None:
    """Load the seed templates under the settings' WABA (approved, as the sandbox has them)."""

    async def seed() -> None:
        db = open_database(settings)
        await db.start()
        try:
            async with db.session() as session:
                waba = settings.whatsapp_business_account_id or ""
                await templates.load_seed(session, waba_id=waba)
                await session.commit()
        finally:
            await db.dispose()

    run_async(seed)
