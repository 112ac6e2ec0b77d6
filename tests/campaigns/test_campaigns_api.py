"""/api/v1/campaigns through the live server: preview, create, start, pause, resume,
report, cancel and list (admins only)."""

from __future__ import annotations

import httpx

from campaigns.conftest import seed_cast
from ovenai.settings import Settings


def test_an_admin_previews_starts_pauses_resumes_reports_and_cancels(
    admin: httpx.Client, agent: httpx.Client, clean_db: Settings
) -> None:
    cast = seed_cast(clean_db, clean_db.whatsapp_business_account_id or "")
    listing = {"property_id": cast.property_id}

    preview = admin.get("/api/v1/campaigns/preview", params=listing)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert {lead["lead_id"] for lead in body["recipients"]} == set(cast.reached.values())
    assert {lead["reason"] for lead in body["excluded"]} == {"opted_out", "no_basis"}
    assert body["not_matching"] == len(cast.not_matching)
    assert agent.get("/api/v1/campaigns/preview", params=listing).status_code == 403

    draft = admin.post("/api/v1/campaigns", json=listing)
    assert draft.status_code == 201, draft.text
    campaign_id = draft.json()["id"]
    assert draft.json()["status"] == "draft"
    assert draft.json()["criteria"]["property"]["city"] == "חיפה"
    started = admin.post(f"/api/v1/campaigns/{campaign_id}/start")
    assert started.json()["status"] == "running", started.text
    assert admin.post(f"/api/v1/campaigns/{campaign_id}/start").status_code == 409
    assert admin.post(f"/api/v1/campaigns/{campaign_id}/pause").json()["status"] == "paused"
    again = admin.post(f"/api/v1/campaigns/{campaign_id}/pause")
    assert again.status_code == 409
    assert "paused" in again.text
    assert admin.post(f"/api/v1/campaigns/{campaign_id}/resume").json()["status"] == "running"

    report = admin.get(f"/api/v1/campaigns/{campaign_id}/report").json()
    totals = report["totals"]
    assert totals["recipients"] == 5
    assert (totals["queued"], totals["excluded"]) == (3, 2)
    assert report["excluded_by_reason"] == {"opted_out": 1, "no_basis": 1}

    cancelled = admin.post(f"/api/v1/campaigns/{campaign_id}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    totals = admin.get(f"/api/v1/campaigns/{campaign_id}/report").json()["totals"]
    assert (totals["cancelled"], totals["queued"]) == (3, 0)
    listed = admin.get("/api/v1/campaigns", params=listing).json()
    assert [item["id"] for item in listed] == [campaign_id]
    assert admin.get("/api/v1/campaigns/nope").status_code == 404
    assert agent.post(f"/api/v1/campaigns/{campaign_id}/pause").status_code == 403


def test_a_listing_without_a_price_cannot_be_campaigned(
    admin: httpx.Client, clean_db: Settings
) -> None:
    made = admin.post("/api/v1/properties", json={"city": "חיפה", "rooms": 4, "size_m2": 90})
    assert made.status_code == 201, made.text
    refused = admin.post("/api/v1/campaigns", json={"property_id": made.json()["id"]})
    assert refused.status_code == 422
    assert "price" in refused.text
