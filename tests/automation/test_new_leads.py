"""Leads added through the API are greeted in their language by the default rule; imported
ones only when the import is asked to greet."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from automation.conftest import firings, sent_to
from ovenai import lead_import, leads
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.lead_fields import LeadCreate
from ovenai.models import Lead

pytestmark = pytest.mark.anyio


async def test_a_lead_from_a_web_form_is_greeted_in_their_language(automated: Database) -> None:
    for language, town, template in (("he", "חיפה", "welcome_new_lead_he"), ("en", "Haifa", None)):
        data = LeadCreate(
            name="Dana Levi" if language == "en" else "דנה לוי",
            phone="+972521234567" if language == "he" else "+972527654321",
            language=language,
            source="web_form",
            want_city=town,
        )
        lead = await leads.create_lead(automated, actor=Actor.system(), data=data)
        [(row, opened)] = await sent_to(automated, lead.id)
        assert row.template_name == (template or "welcome_new_lead_en")
        assert opened.template_params == [data.name, town]
        assert await firings(automated, lead.id) == [
            ("greet_new_api_lead", "done", f"queued template {row.template_name} ({language})")
        ]


def _counted(outcome: str) -> float:
    labels = {"rule": "greet_new_api_lead", "outcome": outcome}
    return REGISTRY.get_sample_value("ovenai_automation_firings_total", labels) or 0.0


async def test_a_lead_without_a_town_is_not_greeted_and_the_log_says_why(
    automated: Database,
) -> None:
    skipped_before = _counted("skipped")
    data = LeadCreate(name="נועה", phone="+972521112233", source="portal")
    lead = await leads.create_lead(automated, actor=Actor.system(), data=data)
    assert await sent_to(automated, lead.id) == []
    [(key, outcome, detail)] = await firings(automated, lead.id)
    assert (key, outcome) == ("greet_new_api_lead", "skipped")
    assert _counted("skipped") == skipped_before + 1  # the metric counts each firing
    assert detail == ("not sent: template welcome_new_lead needs property_city, which is missing")


async def test_an_import_greets_only_when_asked(automated: Database, tmp_path: Path) -> None:
    sheet = tmp_path / "leads.csv"
    sheet.write_text(
        "name,phone,want_city\nיעל,0521000001,רמת גן\nאבי,0521000002,חולון\n", encoding="utf-8"
    )
    quiet = await lead_import.import_leads(automated, path=sheet, actor=Actor.system())
    assert quiet.imported == 2
    async with automated.session() as session:
        ids = list(await session.scalars(select(Lead.id)))
    assert [await sent_to(automated, lead_id) for lead_id in ids] == [[], []]

    sheet.write_text("name,phone,want_city\nרון,0521000003,בת ים\n", encoding="utf-8")
    greeted = await lead_import.import_leads(
        automated, path=sheet, actor=Actor.system(), greet=True
    )
    assert greeted.imported == 1
    async with automated.session() as session:
        new = [i for i in await session.scalars(select(Lead.id)) if i not in ids]
    [(row, opened)] = await sent_to(automated, new[0])
    assert (row.template_name, opened.template_params) == ("welcome_new_lead_he", ["רון", "בת ים"])
