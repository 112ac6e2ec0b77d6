"""/api/v1/privacy and /api/v1/audit over HTTP: admins only, everything recorded."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from conftest import TEST_APP_SECRET
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign
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
            "/api/v1/meetings", json={"lead_id": lead["id"], "starts_at": "2036-12-24T10:00:00"}
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
    booking = {"lead_id": lead["id"], "starts_at": "2036-12-24T10:00:00"}
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


# People the product knows without a phone, made by recorded webhooks from WhatsApp users.
FIXTURES = Path(__file__).parents[2] / "ingest" / "fixtures"
BSUID, USERNAME = "IL.5550002223334445556", "maya.tlv"  # username_user_without_wa_id.json
WA_ID = "99912345678"  # country code 999 is no country's: a wa_id that is not a phone


def _webhook_body(kind: str) -> bytes:
    recorded = (FIXTURES / "username_user_without_wa_id.json").read_bytes()
    if kind != "wa_id":
        return recorded
    body = json.loads((FIXTURES / "text_hebrew_emoji.json").read_bytes())
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "נועה"}, "wa_id": WA_ID}]
    value["messages"][0]["from"] = WA_ID
    return json.dumps(body).encode()


def _whatsapp_lead(admin: httpx.Client, anonymous: httpx.Client, kind: str) -> dict[str, str]:
    """Post the first message as Meta does; the lead it made once the server applied it."""
    raw = _webhook_body(kind)
    headers = {SIGNATURE_HEADER: sign(raw, TEST_APP_SECRET), "Content-Type": "application/json"}
    assert anonymous.post("/api/webhooks/whatsapp", content=raw, headers=headers).status_code == 200
    deadline = time.monotonic() + 15
    while not (items := admin.get("/api/v1/leads").json()["items"]):
        assert time.monotonic() < deadline, "the webhook was never applied"
        time.sleep(0.05)
    (lead,) = items
    assert lead["phone"] is None
    return {
        "bsuid": {"bsuid": BSUID},
        "username": {"username": "@" + USERNAME.upper()},
        "wa_id": {"wa_id": WA_ID},
        "lead_id": {"lead_id": lead["id"]},
    }[kind] | {"id": lead["id"]}


@pytest.mark.parametrize("kind", ["bsuid", "username", "wa_id", "lead_id"])
def test_a_lead_without_a_phone_is_exported_and_erased_by_what_is_known(
    admin: httpx.Client, anonymous: httpx.Client, kind: str
) -> None:
    named = _whatsapp_lead(admin, anonymous, kind)
    lead_id = named.pop("id")
    exported = admin.get("/api/v1/privacy/export", params=named)
    assert exported.status_code == 200, exported.text
    assert exported.json()["subject"]["id"] == lead_id
    assert len(exported.json()["messages"]) == 1

    erased = admin.post("/api/v1/privacy/erase", json=named)
    assert erased.status_code == 200 and erased.json()["lead_id"] == lead_id
    assert erased.json()["messages"] == 1 and erased.json()["webhook_bodies"] == 1
    gone = admin.get(f"/api/v1/leads/{lead_id}")
    assert gone.status_code == 410 and gone.json()["message"] == f"lead {lead_id} was erased"

    refused = admin.get("/api/v1/privacy/export", params=named)
    if kind == "lead_id":
        assert refused.status_code == 410
        assert refused.json()["message"] == f"lead {lead_id} was erased"
    else:
        assert refused.status_code == 404
        assert refused.json()["message"] == (
            f"no lead with that {kind} (never stored, or already erased)"
        )
    assert admin.post("/api/v1/privacy/erase", json=named).status_code == refused.status_code


def test_a_request_names_the_person_by_bsuid(admin: httpx.Client, anonymous: httpx.Client) -> None:
    lead_id = _whatsapp_lead(admin, anonymous, "bsuid")["id"]
    made = admin.post("/api/v1/privacy/requests", json={"bsuid": BSUID, "kind": "erasure"})
    assert made.status_code == 201 and made.json()["lead_id"] == lead_id


@pytest.mark.parametrize(
    ("named", "field"),
    [
        ({}, "phone"),
        ({"phone": "0547778888", "bsuid": BSUID}, "bsuid"),
        ({"bsuid": "0547778888"}, "bsuid"),
        ({"lead_id": "not-a-lead-id-but-long-enough-000000"}, "lead_id"),
    ],
)
def test_the_person_is_named_by_exactly_one_identity_of_its_kind(
    admin: httpx.Client, named: dict[str, str], field: str
) -> None:
    _lead(admin)
    for answer in (
        admin.get("/api/v1/privacy/export", params=named),
        admin.post("/api/v1/privacy/erase", json=named),
        admin.post("/api/v1/privacy/requests", json=named | {"kind": "access"}),
    ):
        assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
    assert admin.get("/api/v1/leads", params={"phone": "0547778888"}).json()["items"] != []
