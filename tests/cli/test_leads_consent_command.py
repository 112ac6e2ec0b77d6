"""`ovenai leads consent LEAD_ID [--opt-out | --opt-in | --basis B] [--words W]`: a lead's
marketing consent and its ledger; an agent's change recorded first, with the words."""

from __future__ import annotations

from collections.abc import Callable

from typer.testing import Result

from ovenai.auth import Actor
from ovenai.db import open_database
from ovenai.lead_fields import LeadCreate
from ovenai.leads import create_lead
from ovenai.settings import Settings
from support.aio import run_async

Run = Callable[..., Result]
NOTICE = "נשמח לשלוח לך נכסים דומים; להסרה השיבו הסר"


def _lead(settings: Settings) -> str:
    async def make() -> str:
        db = open_database(settings)
        try:
            await db.start()
            data = LeadCreate(name="דנה לוי", phone="0502345679")
            return (await create_lead(db, actor=Actor.system(), data=data)).id
        finally:
            await db.dispose()

    return run_async(make)


def test_it_shows_a_lead_without_consent_as_utility_only(ovenai: Run, clean_db: Settings) -> None:
    result = ovenai("leads", "consent", _lead(clean_db))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "not opted out; basis none; utility messages only",
        "no consent recorded yet",
    ]


def test_a_basis_then_an_opt_out_are_recorded_with_their_words(
    ovenai: Run, clean_db: Settings
) -> None:
    lead_id = _lead(clean_db)
    result = ovenai("leads", "consent", lead_id, "--basis", "inquiry_30a", "--words", NOTICE)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "not opted out; basis inquiry_30a; marketing allowed"
    result = ovenai("leads", "consent", lead_id, "--opt-out")
    lines = result.output.splitlines()
    assert lines[0] == "opted out; basis inquiry_30a; utility messages only"
    assert [line.split("  ")[1:4] for line in lines[1:]] == [
        ["basis", "agent", "system"],
        ["opt_out", "agent", "system"],
    ]
    assert lines[1].endswith(f'"{NOTICE}"')


def test_an_opt_in_without_words_or_two_changes_at_once_are_refused(
    ovenai: Run, clean_db: Settings
) -> None:
    lead_id = _lead(clean_db)
    no_words = ovenai("leads", "consent", lead_id, "--opt-in")
    assert no_words.exit_code != 0 and "words are required" in no_words.output
    both = ovenai("leads", "consent", lead_id, "--opt-in", "--opt-out", "--words", "כן")
    assert both.exit_code != 0 and "one of" in both.output
