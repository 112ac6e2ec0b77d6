"""/api/v1/privacy and /api/v1/audit over HTTP: admins only, everything recorded."""

from __future__ import annotations

import io
import zipfile

import httpx

from ovenai.settings import Settings
from support.templates import seed_templates


def _lead(client: httpx.Client, phone: str = "054-777-8888") -> dict[str, object]:
    answer = client.post("/api/v1/leads", json={"name": "נועה שלום", "phone": phone})
    assert answer.status_code == 201
    lead: dict[str, object] = answer.json()
    return lead


def test_an_admin_exports_json_and_csv(admin: httpx.Client) -> None:
    lead = _lead(admin)
    answer = admin.get("/api/v1/privacy/export", params={"phone": "0547778888"})
    assert answer.status_code == 200
    assert answer.json()["subject"]["id"] == lead["id"]
    assert answer.json()["subject"]["name"] == "נועה שלום"
    zipped = admin.get("/api/v1/privacy/export", params={"phone": "0547778888", "format": "csv"})
    assert zipped.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        assert "נועה שלום" in archive.read("lead.csv").decode("utf-8-sig")


def test_an_agent_may_not_export_erase_or_read_the_audit_log(
    admin: httpx.Client, agent: httpx.Client
) -> None:
    _lead(admin)
    assert agent.get("/api/v1/privacy/export", params={"phone": "0547778888"}).status_code == 403
    assert agent.post("/api/v1/privacy/erase", json={"phone": "0547778888"}).status_code == 403
    assert agent.get("/api/v1/audit").status_code == 403


def test_erasure_through_the_api_makes_the_lead_unfindable(admin: httpx.Client) -> None:
    lead = _lead(admin)
    answer = admin.post("/api/v1/privacy/erase", json={"phone": "+972547778888"})
    assert answer.status_code == 200 and answer.json()["lead_id"] == lead["id"]
    gone = admin.get(f"/api/v1/leads/{lead['id']}")
    assert gone.status_code == 410 and gone.json()["message"] == f"lead {lead['id']} was erased"
    assert admin.get("/api/v1/leads", params={"phone": "0547778888"}).json()["items"] == []
    again = admin.post("/api/v1/privacy/erase", json={"phone": "+972547778888"})
    assert again.status_code == 404


def test_an_erased_leads_meetings_and_messages_are_gone_and_the_lists_still_answer(
    admin: httpx.Client, clean_db: Settings
) -> None:
    # Regression: they could no longer be decrypted, so the meeting list, the meeting and
    # the message answered 500 for everyone once a lead with a meeting had been erased.
    seed_templates(clean_db)
    kept, erased = _lead(admin, "054-777-1111"), _lead(admin)
    meetings = [
        admin.post(
            "/api/v1/meetings", json={"lead_id": lead["id"], "starts_at": "2026-12-24T10:00:00"}
        ).json()["id"]
        for lead in (kept, erased)
    ]
    body = {"template": "welcome_new_lead", "params": ["נועה", "חיפה"]}
    sent = admin.post(f"/api/v1/leads/{erased['id']}/messages", json=body)
    assert sent.status_code == 202, sent.text
    assert admin.post("/api/v1/privacy/erase", json={"phone": "0547778888"}).status_code == 200

    listed = admin.get("/api/v1/meetings")
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == meetings[:1]
    assert admin.get(f"/api/v1/meetings/{meetings[1]}").status_code == 410
    assert admin.get(f"/api/v1/messages/{sent.json()['id']}").status_code == 410
    assert admin.get(f"/api/v1/leads/{erased['id']}/messages").status_code == 410


def test_every_write_to_an_erased_lead_is_refused_with_410(admin: httpx.Client) -> None:
    lead = _lead(admin)
    booking = {"lead_id": lead["id"], "starts_at": "2026-12-24T10:00:00"}
    meeting = admin.post("/api/v1/meetings", json=booking).json()
    assert admin.post("/api/v1/privacy/erase", json={"phone": "0547778888"}).status_code == 200

    writes = [
        admin.post("/api/v1/meetings", json=booking),
        admin.patch(f"/api/v1/meetings/{meeting['id']}", json={"notes": "קומה 3"}),
        admin.patch(f"/api/v1/leads/{lead['id']}", json={"notes": "חדש"}),
        admin.post(f"/api/v1/leads/{lead['id']}/messages", json={"text": "שלום"}),
    ]
    assert [answer.status_code for answer in writes] == [410] * len(writes)
    assert admin.get("/api/v1/meetings", params={"lead_id": lead["id"]}).json()["items"] == []


def test_views_changes_and_exports_are_in_the_audit_log(
    admin: httpx.Client, personas: dict[str, object]
) -> None:
    lead = _lead(admin)
    admin.get(f"/api/v1/leads/{lead['id']}")
    admin.patch(f"/api/v1/leads/{lead['id']}", json={"stage": "contacted"})
    admin.get("/api/v1/privacy/export", params={"phone": "0547778888"})
    entries = admin.get("/api/v1/audit", params={"subject_id": lead["id"]}).json()
    actions = [entry["action"] for entry in entries]
    assert actions == ["export", "update", "view", "create"]
    assert {entry["actor"] for entry in entries} == {"admin@example.co.il"}
    assert entries[1]["details"] == {"fields": ["stage"]}


def test_a_request_is_recorded_with_its_deadline(admin: httpx.Client) -> None:
    _lead(admin)
    made = admin.post("/api/v1/privacy/requests", json={"phone": "0547778888", "kind": "erasure"})
    assert made.status_code == 201 and made.json()["overdue"] is False
    listed = admin.get("/api/v1/privacy/requests").json()
    assert [item["id"] for item in listed] == [made.json()["id"]]
