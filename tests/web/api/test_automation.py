"""/api/v1/automation: everyone reads the rules, admins change them; the log shows each
caller only the leads they may see."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from ovenai import automation
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import open_database
from ovenai.lead_fields import LeadCreate
from ovenai.leads import add_lead
from ovenai.models import AutomationFiring, AutomationRule
from ovenai.settings import Settings
from support.aio import run_async
from support.automation import seed_default_rules

GREET_TOO: dict[str, Any] = {
    "name": "Greet on a viewing request",
    "trigger": {"kind": "message", "intents": ["wants_viewing"]},
    "conditions": {"stages": ["new", "contacted"]},
    "actions": [{"type": "send_text", "text": {"he": "נשמח לתאם!", "en": "Happy to arrange!"}}],
}


def test_rules_are_listed_in_run_order_and_admins_switch_and_edit_them(
    admin: httpx.Client, agent: httpx.Client, clean_db: Settings
) -> None:
    seed_default_rules(clean_db)
    listed = agent.get("/api/v1/automation/rules")
    assert listed.status_code == 200
    keys = [rule["key"] for rule in listed.json()]
    assert keys == [rule.key for rule in automation.load_seed()]
    assert listed.json()[0]["definition"]["trigger"] == {
        "kind": "first_message",
        "intents": [],
        "keywords": [],
        "payloads": [],
        "sources": [],
        "hour": 18,
        "hours_after": 1.0,
        "days": 3.0,
    }

    refused = agent.patch("/api/v1/automation/rules/greet_new_api_lead", json={"enabled": False})
    assert refused.status_code == 403
    off = admin.patch("/api/v1/automation/rules/greet_new_api_lead", json={"enabled": False})
    assert (off.status_code, off.json()["enabled"]) == (200, False)
    assert admin.get("/api/v1/automation/rules/greet_new_api_lead").json()["enabled"] is False

    changed = dict(GREET_TOO, name="Renamed")
    edited = admin.patch(
        f"/api/v1/automation/rules/{off.json()['id']}", json={"definition": changed}
    )
    assert edited.status_code == 200
    assert edited.json()["definition"]["name"] == "Renamed"
    assert edited.json()["updated_by"] is not None


def test_a_new_rule_is_checked_and_its_key_is_unique(
    admin: httpx.Client, clean_db: Settings
) -> None:
    made = admin.post(
        "/api/v1/automation/rules", json={"key": "viewing_reply", "definition": GREET_TOO}
    )
    assert made.status_code == 201
    assert (made.json()["key"], made.json()["enabled"], made.json()["done"]) == (
        "viewing_reply",
        True,
        0,
    )
    again = admin.post(
        "/api/v1/automation/rules", json={"key": "viewing_reply", "definition": GREET_TOO}
    )
    assert again.status_code == 409
    bad = dict(GREET_TOO, actions=[{"type": "send_fax", "to": "x"}])
    refused = admin.post("/api/v1/automation/rules", json={"key": "bad_one", "definition": bad})
    assert refused.status_code == 422
    no_actions = dict(GREET_TOO, actions=[])
    refused = admin.post(
        "/api/v1/automation/rules", json={"key": "empty", "definition": no_actions}
    )
    assert refused.status_code == 422
    assert admin.delete("/api/v1/automation/rules/viewing_reply").status_code == 204
    assert admin.get("/api/v1/automation/rules/viewing_reply").status_code == 404


_PHONES = iter(range(2000001, 2999999))


def _fire(settings: Settings, agent_id: str | None) -> str:
    """A lead (given to ``agent_id``) and one firing of a rule for it; the lead's id."""

    async def work() -> str:
        db = open_database(settings)
        try:
            await db.start()
            await automation.seed_rules(db)
            async with db.session() as session:
                data = LeadCreate(name="נועה", phone=f"+97252{next(_PHONES)}")
                lead = await add_lead(session, db.vault, actor=Actor.system(), data=data)
                lead.assigned_agent_id = agent_id
                rule = await session.scalar(
                    select(AutomationRule).where(AutomationRule.key == "first_answer_contacted")
                )
                assert rule is not None
                session.add(
                    AutomationFiring(
                        id=new_id(),
                        rule_id=rule.id,
                        lead_id=lead.id,
                        event=f"message:{new_id()}",
                        outcome="done",
                        detail="stage new → contacted",
                        at=utcnow(),
                    )
                )
                await session.commit()
                return lead.id
        finally:
            await db.dispose()

    return run_async(work)


def test_the_log_shows_each_caller_the_leads_they_may_see(
    admin: httpx.Client, agent: httpx.Client, personas: dict[str, Any], clean_db: Settings
) -> None:
    others = _fire(clean_db, personas["other_agent"].user_id)
    mine = _fire(clean_db, personas["agent"].user_id)
    everyone = admin.get("/api/v1/automation/firings").json()
    assert {item["lead_id"] for item in everyone["items"]} == {others, mine}
    seen = agent.get("/api/v1/automation/firings").json()
    assert [item["lead_id"] for item in seen["items"]] == [mine]
    first = admin.get("/api/v1/automation/firings", params={"limit": 1}).json()
    assert first["items"][0]["lead_id"] == mine  # newest first
    rest = admin.get(
        "/api/v1/automation/firings", params={"limit": 1, "cursor": first["next_cursor"]}
    ).json()
    assert ([item["lead_id"] for item in rest["items"]], rest["next_cursor"]) == ([others], None)
    only = admin.get("/api/v1/automation/firings", params={"outcome": "skipped"}).json()
    assert only["items"] == []
