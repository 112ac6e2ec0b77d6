"""`ovenai leads score LEAD_ID`: a lead's engagement score and its history, newest first."""

from __future__ import annotations

from collections.abc import Callable

from typer.testing import Result

from ovenai.auth import Actor
from ovenai.db import open_database
from ovenai.lead_fields import LeadCreate, LeadUpdate
from ovenai.leads import create_lead, update_lead
from ovenai.settings import Settings
from support.aio import run_async

Run = Callable[..., Result]


def _lead_scored(settings: Settings, *scores: int) -> str:
    """A lead whose score was written by hand to each value in turn."""

    async def make() -> str:
        db = open_database(settings)
        try:
            await db.start()
            data = LeadCreate(name="דנה לוי", phone="0502345678", engagement_score=scores[0])
            lead = await create_lead(db, actor=Actor.system(), data=data)
            for score in scores[1:]:
                changes = LeadUpdate(engagement_score=score)
                await update_lead(db, actor=Actor.system(), lead_id=lead.id, changes=changes)
            return lead.id
        finally:
            await db.dispose()

    return run_async(make)


def test_it_prints_the_score_and_each_change_newest_first(ovenai: Run, clean_db: Settings) -> None:
    lead_id = _lead_scored(clean_db, 30, 55, 45)
    result = ovenai("leads", "score", lead_id)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "score 45"
    assert [line.split()[1:] for line in lines[1:]] == [
        ["-10", "45", "set", "system"],
        ["+25", "55", "set", "system"],
        ["+30", "30", "set", "system"],
    ]
    shorter = ovenai("leads", "score", lead_id, "--limit", "1")
    assert shorter.output.splitlines()[1:] == [
        lines[1],
        "(the newest 1; --limit shows more)",
    ]


def test_an_unknown_lead_is_one_line_and_a_failing_exit(ovenai: Run, clean_db: Settings) -> None:
    result = ovenai("leads", "score", "0193a000-0000-7000-8000-000000000000")
    assert result.exit_code != 0
    assert "no lead 0193a000-0000-7000-8000-000000000000" in result.output
