"""A send names a family or an exact name; the lead's language wins, the other is a fallback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from ovenai import templates
from ovenai.db import Database
from ovenai.models import MessageTemplate

pytestmark = pytest.mark.anyio
TEST_WABA = "310000000000001"
AddTemplate = Callable[..., Awaitable[MessageTemplate]]


async def _prepare(
    db: Database,
    template: str,
    language: str,
    *,
    params: tuple[str, ...] = ("דנה", "חיפה"),
    fallback: bool = True,
) -> str:
    async with db.session() as session:
        prepared = await templates.prepare_send(
            session,
            waba_id=TEST_WABA,
            template=template,
            language=language,
            params=list(params),
            fallback=fallback,
        )
    return prepared.name


def test_a_family_is_the_name_without_its_language_suffix() -> None:
    assert templates.family_of("welcome_new_lead_he") == "welcome_new_lead"
    assert templates.family_of("welcome_new_lead_en_US") == "welcome_new_lead"
    assert templates.family_of("visit_confirmed") == "visit_confirmed"


async def test_a_family_resolves_to_the_leads_language(seeded: Database) -> None:
    assert await _prepare(seeded, "welcome_new_lead", "he") == "welcome_new_lead_he"
    assert await _prepare(seeded, "welcome_new_lead", "en") == "welcome_new_lead_en"


async def test_it_falls_back_to_the_other_language_when_the_family_lacks_it(
    seeded: Database,
) -> None:
    # followup_interest and document_request exist only in Hebrew in the seed.
    assert await _prepare(seeded, "followup_interest", "en") == "followup_interest_he"


async def test_without_fallback_a_missing_language_is_not_found(seeded: Database) -> None:
    with pytest.raises(templates.TemplateNotFound) as caught:
        await _prepare(seeded, "followup_interest", "en", fallback=False)
    assert caught.value.http_status == 422
    assert "followup_interest" in caught.value.message and "en" in caught.value.message


async def test_a_regional_code_counts_as_the_leads_language(
    db: Database, add_template: AddTemplate
) -> None:
    await add_template(name="visit_confirmed_he", language="he")
    await add_template(name="visit_confirmed_en_US", language="en_US")
    assert await _prepare(db, "visit_confirmed", "en", params=("Dana",)) == "visit_confirmed_en_US"


async def test_an_exact_name_is_used_as_named(seeded: Database) -> None:
    assert await _prepare(seeded, "welcome_new_lead_en", "he") == "welcome_new_lead_en"


async def test_another_wabas_templates_are_not_used(seeded: Database) -> None:
    async with seeded.session() as session:
        with pytest.raises(templates.TemplateNotFound):
            await templates.prepare_send(
                session,
                waba_id="999000000000001",
                template="welcome_new_lead",
                language="he",
                params=["דנה", "חיפה"],
            )
