"""POST /api/v1/leads/{id}/messages: 202 queued, 409 with a reason, 422 for bad params."""

from __future__ import annotations

import httpx

from ovenai.settings import Settings
from support.templates import seed_templates


def _lead(client: httpx.Client, phone: str) -> str:
    answer = client.post("/api/v1/leads", json={"name": "נועה", "phone": phone})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_a_template_send_is_queued_and_answered_at_once(
    admin: httpx.Client, clean_db: Settings
) -> None:
    seed_templates(clean_db)
    lead_id = _lead(admin, "050-111-2233")
    body = {"template": "welcome_new_lead", "params": ["נועה", "חיפה"]}

    answer = admin.post(f"/api/v1/leads/{lead_id}/messages", json=body)

    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "queued"
    shown = admin.get(f"/api/v1/messages/{answer.json()['id']}").json()
    assert shown["status"] == "queued" and shown["template"] == "welcome_new_lead_he"
    assert [step["status"] for step in shown["status_history"]] == ["created"]


def test_free_text_outside_the_window_is_409_telling_to_use_a_template(
    admin: httpx.Client,
) -> None:
    lead_id = _lead(admin, "050-111-2234")
    answer = admin.post(f"/api/v1/leads/{lead_id}/messages", json={"text": "hello"})
    assert answer.status_code == 409
    assert "template" in answer.json()["message"]


def test_parameters_that_do_not_fit_are_422(admin: httpx.Client, clean_db: Settings) -> None:
    seed_templates(clean_db)
    lead_id = _lead(admin, "050-111-2235")
    body = {"template": "welcome_new_lead", "params": ["one\nline"]}
    answer = admin.post(f"/api/v1/leads/{lead_id}/messages", json=body)
    assert answer.status_code == 422


def test_both_text_and_template_is_422(admin: httpx.Client) -> None:
    lead_id = _lead(admin, "050-111-2236")
    body = {"template": "welcome_new_lead", "text": "x"}
    assert admin.post(f"/api/v1/leads/{lead_id}/messages", json=body).status_code == 422


def test_another_agents_lead_is_404(personas: dict[str, object]) -> None:
    owner = personas["agent"].client  # type: ignore[attr-defined]
    other = personas["other_agent"].client  # type: ignore[attr-defined]
    lead_id = _lead(owner, "050-111-2237")
    answer = other.post(f"/api/v1/leads/{lead_id}/messages", json={"text": "hi"})
    assert answer.status_code == 404
