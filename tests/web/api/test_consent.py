"""A lead's consent over the REST API: `GET /api/v1/leads/{id}/consent` (state, basis, ledger
with the words) and `POST` (opt-in, opt-out, basis, always with the words), and marketing
refused by `POST /api/v1/leads/{id}/messages` with the reason (409) until a basis exists."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from ovenai.settings import Settings
from support.templates import seed_templates

_numbers = itertools.count(4567001)
MARKETING = {"template": "property_details", "params": ["נועה", "חיפה", "4", "95", "₪2,450,000"]}
UTILITY = {"template": "welcome_new_lead", "params": ["נועה", "חיפה"]}
NOTICE = "תודה על פנייתך! נשמח לשלוח לך נכסים דומים; להסרה השיבו הסר"


def _lead(client: httpx.Client, **fields: object) -> dict[str, Any]:
    body = {"name": "נועה כהן", "phone": f"052-{next(_numbers):07d}", **fields}
    answer = client.post("/api/v1/leads", json=body)
    assert answer.status_code == 201, answer.text
    lead: dict[str, Any] = answer.json()
    return lead


def _send(client: httpx.Client, lead_id: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/api/v1/leads/{lead_id}/messages", json=body)


def test_a_lead_without_a_basis_gets_utility_only_and_marketing_is_409_with_the_reason(
    admin: httpx.Client, clean_db: Settings
) -> None:
    seed_templates(clean_db)
    lead = _lead(admin)
    assert lead["marketing_basis"] is None
    refused = _send(admin, lead["id"], MARKETING)
    assert refused.status_code == 409
    assert "no recorded basis for marketing" in refused.json()["message"]
    assert refused.json()["field"] == "template"
    assert _send(admin, lead["id"], UTILITY).status_code == 202


def test_a_basis_with_the_words_shown_allows_marketing_until_the_lead_opts_out(
    admin: httpx.Client, clean_db: Settings
) -> None:
    seed_templates(clean_db)
    lead = _lead(admin, marketing_basis="inquiry_30a", consent_words=NOTICE)
    assert lead["marketing_basis"] == "inquiry_30a"
    assert _send(admin, lead["id"], MARKETING).status_code == 202

    body = {"action": "opt_out", "words": "אמרה בטלפון: אל תשלחו לי יותר"}
    answer = admin.post(f"/api/v1/leads/{lead['id']}/consent", json=body)

    assert answer.status_code == 200, answer.text
    state = answer.json()
    assert (state["opted_out"], state["may_market"], state["marketing_basis"]) == (
        True,
        False,
        "inquiry_30a",
    )
    assert [(e["kind"], e["source"], e["words"]) for e in state["ledger"]] == [
        ("basis", "api", NOTICE),
        ("opt_out", "api", "אמרה בטלפון: אל תשלחו לי יותר"),
    ]
    refused = _send(admin, lead["id"], MARKETING)
    assert refused.status_code == 409 and "opted out" in refused.json()["message"]
    assert _send(admin, lead["id"], UTILITY).status_code == 202
    assert admin.get(f"/api/v1/leads/{lead['id']}/consent").json() == state


def test_an_opt_out_through_patch_is_in_the_ledger_too(admin: httpx.Client) -> None:
    lead = _lead(admin, opted_in=True, consent_words="כן, אשמח לעדכונים")
    assert admin.patch(f"/api/v1/leads/{lead['id']}", json={"opted_in": False}).status_code == 200
    ledger = admin.get(f"/api/v1/leads/{lead['id']}/consent").json()["ledger"]
    assert [(e["kind"], e["source"], e["actor"]) for e in ledger] == [
        ("opt_in", "api", "admin@example.co.il"),
        ("opt_out", "api", "admin@example.co.il"),
    ]


def test_an_opt_in_or_a_basis_without_the_words_is_422(admin: httpx.Client) -> None:
    lead = _lead(admin)
    for body in ({"action": "opt_in"}, {"action": "basis", "basis": "opt_in"}):
        answer = admin.post(f"/api/v1/leads/{lead['id']}/consent", json=body)
        assert answer.status_code == 422, body
    no_words = admin.post("/api/v1/leads", json={"name": "דנה", "phone": "052-4567999",
                                                 "marketing_basis": "opt_in"})  # fmt: skip
    assert no_words.status_code == 422


def test_another_agent_s_lead_is_404(personas: dict[str, Any]) -> None:
    owner = personas["agent"].client
    other = personas["other_agent"].client
    lead = _lead(owner)
    assert other.get(f"/api/v1/leads/{lead['id']}/consent").status_code == 404
    body = {"action": "opt_out"}
    assert other.post(f"/api/v1/leads/{lead['id']}/consent", json=body).status_code == 404
