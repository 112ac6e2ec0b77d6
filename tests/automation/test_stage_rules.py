"""An agent moving a lead to the contract stage brings the document request, in the lead's
language, listing the documents of the settings; a family without the lead's language says
so in the log."""

from __future__ import annotations

import pytest

from automation.conftest import firings, sent_to
from automation.test_rules_on_inbound import add_rule
from ovenai import document_checklist, leads
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.lead_fields import LeadCreate, LeadUpdate
from ovenai.settings import Settings

pytestmark = pytest.mark.anyio


async def lead_at_contract(db: Database, phone: str, language: str) -> str:
    async with db.session() as session:
        data = LeadCreate(
            name="דנה" if language == "he" else "Dana", phone=phone, language=language
        )
        lead = await leads.add_lead(session, db.vault, actor=Actor.system(), data=data)
        await session.commit()
    changes = LeadUpdate(stage="negotiation")
    await leads.update_lead(db, actor=Actor.system(), lead_id=lead.id, changes=changes)
    changes = LeadUpdate(stage="contract")
    await leads.update_lead(db, actor=Actor.system(), lead_id=lead.id, changes=changes)
    return lead.id


async def test_the_contract_stage_brings_the_document_request(
    automated: Database, automation_settings: Settings
) -> None:
    hebrew = await lead_at_contract(automated, "+972521230020", "he")
    [(row, opened)] = await sent_to(automated, hebrew)
    assert row.template_name == "document_request_he"
    # The settings' documents ("א; ב; ג") written as a list is written, each on the checklist.
    sentence = "תעודת זהות, שלושה תלושי שכר אחרונים ואישור עקרוני למשכנתא"
    assert opened.template_params == ["דנה", sentence]
    checklist = await document_checklist.checklist(automated, actor=Actor.system(), lead_id=hebrew)
    assert [(d.name, d.message_id) for d in checklist] == [
        (name, row.id) for name in document_checklist.items(automation_settings.documents_he)
    ]
    logged = [(key, outcome) for key, outcome, _ in await firings(automated, hebrew)]
    assert logged == [("request_documents_on_contract", "done")]  # not on negotiation

    english = await lead_at_contract(automated, "+972521230021", "en")
    assert await sent_to(automated, english) == []
    [(key, outcome, detail)] = await firings(automated, english)
    assert (key, outcome) == ("request_documents_on_contract", "skipped")
    assert detail == "not sent: template document_request does not exist in language en"


async def test_a_stage_rule_for_some_sources_fires_only_for_their_leads(
    automated: Database,
) -> None:
    await add_rule(
        automated,
        "portal_leads_negotiating",
        {
            "name": "Portal leads negotiating",
            "trigger": {"kind": "stage_changed", "sources": ["portal"]},
            "conditions": {"stages": ["negotiation"]},
            "actions": [{"type": "notify_agent", "text": {"he": "ליד מהפורטל במשא ומתן"}}],
        },
    )
    moved: dict[str, str] = {}
    for source, phone in (("portal", "+972521230030"), ("manual", "+972521230031")):
        data = LeadCreate(name="דנה", phone=phone, source=source)
        lead = await leads.create_lead(automated, actor=Actor.system(), data=data)
        changes = LeadUpdate(stage="negotiation")
        await leads.update_lead(automated, actor=Actor.system(), lead_id=lead.id, changes=changes)
        moved[source] = lead.id

    def keys(logged: list[tuple[str, str, str]]) -> list[str]:
        return [key for key, _, _ in logged]

    assert "portal_leads_negotiating" in keys(await firings(automated, moved["portal"]))
    assert "portal_leads_negotiating" not in keys(await firings(automated, moved["manual"]))
