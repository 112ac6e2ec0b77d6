"""Campaign tests: the seed templates, a Haifa listing and leads around it, the simulator
(statuses on) and the real webhook processor to bring its statuses back."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from ingest.conftest import WABA, Harness
from ovenai import consent, templates
from ovenai.auth import Actor
from ovenai.db import Database, open_database
from ovenai.lead_fields import LeadCreate
from ovenai.leads import create_lead
from ovenai.models import Lead, Property, Stage
from ovenai.settings import Settings
from support.aio import run_async
from support.simulator import (  # noqa: F401  (fixtures of these tests)
    client,
    control,
    fresh_simulator,
    http,
    receiver,
    sim_config,
    simulator,
)

SYSTEM = Actor.system()
WORDS = "כן, אשמח לקבל עדכונים על נכסים חדשים"


@dataclass(frozen=True)
class Cast:
    """The Haifa listing and who is who among the leads."""

    property_id: str
    reached: dict[str, str]  # name -> lead id: match, basis, no opt-out
    excluded: dict[str, str]  # reason -> lead id: match, but may not be sent
    not_matching: list[str]


async def add_lead(db: Database, name: str, phone: str, **fields: Any) -> str:
    """A lead with a basis (``basis=None``: none), opted out when ``opted_out=True``."""
    basis = fields.pop("basis", "opt_in")
    opted_out = fields.pop("opted_out", False)
    data = LeadCreate(
        name=name,
        phone=phone,
        marketing_basis=basis,
        consent_words=WORDS if basis else None,
        **fields,
    )
    made = await create_lead(db, actor=SYSTEM, data=data)
    if opted_out:
        async with db.session() as session:
            row = await session.get(Lead, made.id)
            assert row is not None
            await consent.record(
                session, db.vault, row, kind=consent.Kind.OPT_OUT, source=consent.Source.AGENT
            )
            await session.commit()
    return made.id


@pytest.fixture
async def seeded(db: Database) -> Database:
    """The database with the seed templates approved for the simulator's account."""
    async with db.session() as session:
        await templates.load_seed(session, waba_id=WABA)
        await session.commit()
    return db


@pytest.fixture
def harness(seeded: Database) -> Harness:
    """Stores webhook bodies and drains them through the real processor."""
    return Harness(seeded)


@pytest.fixture
async def haifa(seeded: Database) -> Cast:
    """A 4-room flat in Haifa at ₪1,950,000 and ten leads around it."""
    return await build_cast(seeded)


def seed_cast(settings: Settings, waba_id: str) -> Cast:
    """The seed templates under ``waba_id`` and the Haifa cast, from sync tests."""

    async def seed() -> Cast:
        db = open_database(settings)
        await db.start()
        try:
            async with db.session() as session:
                await templates.load_seed(session, waba_id=waba_id)
                await session.commit()
            return await build_cast(db)
        finally:
            await db.dispose()

    return run_async(seed)


async def build_cast(db: Database) -> Cast:
    """A 4-room flat in Haifa at ₪1,950,000; three leads it reaches, two it suits but may
    not write to (opted out, no basis), five it does not suit."""
    async with db.session() as session:
        prop = Property(
            title="דירת 4 חדרים בכרמל",
            city="חיפה",
            area="כרמל",
            rooms=Decimal(4),
            size_m2=100,
            price=1_950_000,
        )
        session.add(prop)
        await session.commit()
    haifa_4 = {"want_city": "חיפה", "want_rooms_min": Decimal(4), "want_budget_max": 2_000_000}
    reached = {
        "noa": await add_lead(db, "נועה כהן", "+972521110001", **haifa_4),
        "dan": await add_lead(
            db,
            "Dan Levi",
            "+972521110002",
            language="en",
            basis="inquiry_30a",
            want_city="Haifa",
            want_rooms_min=Decimal(3),
            want_rooms_max=Decimal(4),
            want_budget_max=2_000_000,
        ),
        "rina": await add_lead(db, "רינה", "+972521110003", want_city="חיפה", want_size_min=90),
    }
    excluded = {
        "opted_out": await add_lead(db, "אבי", "+972521110004", opted_out=True, **haifa_4),
        "no_basis": await add_lead(db, "יעל", "+972521110005", basis=None, **haifa_4),
    }
    not_matching = [
        await add_lead(db, "תל אביבי", "+972521110006", want_city="תל אביב"),
        await add_lead(db, "קטן", "+972521110007", want_city="חיפה", want_budget_max=1_500_000),
        await add_lead(db, "גדול", "+972521110008", want_city="חיפה", want_rooms_min=Decimal(5)),
        await add_lead(db, "סגור", "+972521110009", stage=Stage.LOST, **haifa_4),
        await add_lead(db, "בלי", "+972521110010"),
    ]
    return Cast(prop.id, reached, excluded, not_matching)
