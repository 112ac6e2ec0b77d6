"""`ovenai kpis`: the key figures of chosen days, as lines or JSON; bad days refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from typer.testing import Result

from ovenai.auth import Actor
from ovenai.db import open_database
from ovenai.lead_fields import LeadCreate
from ovenai.leads import create_lead
from ovenai.models import Direction, Message
from ovenai.settings import Settings
from support.aio import run_async

Run = Callable[..., Result]
NOON = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _two_sent(settings: Settings) -> None:
    async def make() -> None:
        db = open_database(settings)
        try:
            await db.start()
            data = LeadCreate(name="דנה לוי", phone="0502345678")
            lead = await create_lead(db, actor=Actor.system(), data=data)
            async with db.session() as session:
                for status in ("read", "sent"):
                    session.add(
                        Message(
                            lead_id=lead.id,
                            direction=Direction.OUTBOUND,
                            type="template",
                            template_name="meeting_reminder_he",
                            status=status,
                            sent_at=NOON,
                        )
                    )
                await session.commit()
        finally:
            await db.dispose()

    run_async(make)


def test_it_prints_the_figures_of_the_chosen_days(ovenai: Run, clean_db: Settings) -> None:
    _two_sent(clean_db)

    lines = ovenai("kpis", "--from", "2026-11-01", "--to", "2026-11-07")
    as_json = ovenai("kpis", "--from", "2026-11-01", "--to", "2026-11-07", "--json")
    before = ovenai("kpis", "--from", "2026-10-01", "--to", "2026-10-07", "--json")

    assert lines.exit_code == 0, lines.output
    assert "delivery rate    50.0%" in lines.output
    assert "template         meeting_reminder: 2 (100.0%), delivered 50.0%, read 50.0%" in (
        lines.output
    )
    figures = json.loads(as_json.output)
    assert (figures["cohort"], figures["read"], figures["still_sent"]) == (2, 1, 1)
    assert figures["start"] == "2026-11-01 00:00:00+02:00"
    assert json.loads(before.output)["cohort"] == 0


def test_days_that_make_no_period_are_refused_in_one_line(ovenai: Run) -> None:
    backwards = ovenai("kpis", "--from", "2026-11-07", "--to", "2026-11-01")
    assert backwards.exit_code != 0
    assert "the period must end after it starts" in backwards.output
    assert ovenai("kpis", "--from", "2026-11-01").exit_code != 0
    assert ovenai("kpis", "--from", "1/11/2026", "--to", "2026-11-02").exit_code != 0
