"""/api/v1/meetings: viewings stored in UTC and shown in Israel time."""

from __future__ import annotations

from typing import Any

import httpx


def _lead(client: httpx.Client, phone: str = "0502345678", **fields: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/leads", json={"name": "רון", "phone": phone, **fields})
    assert answer.status_code == 201, answer.text
    lead: dict[str, Any] = answer.json()
    return lead


def test_a_time_without_offset_is_israel_time(admin: httpx.Client) -> None:
    lead = _lead(admin)
    body = {"lead_id": lead["id"], "starts_at": "2036-12-24T10:00:00", "notes": "להביא חוזה"}
    meeting = admin.post("/api/v1/meetings", json=body)
    assert meeting.status_code == 201, meeting.text
    assert meeting.json()["starts_at"] == "2036-12-24T10:00:00+02:00"
    assert meeting.json()["notes"] == "להביא חוזה"


def test_a_summer_time_is_shown_with_the_summer_offset(admin: httpx.Client) -> None:
    lead = _lead(admin)
    body = {"lead_id": lead["id"], "starts_at": "2026-07-01T07:00:00Z", "recorded_after": True}
    assert admin.post("/api/v1/meetings", json=body).json()["starts_at"] == (
        "2026-07-01T10:00:00+03:00"
    )


def test_moving_a_meeting_clears_its_reminder_and_filters_find_it(admin: httpx.Client) -> None:
    lead = _lead(admin)
    made = admin.post(
        "/api/v1/meetings", json={"lead_id": lead["id"], "starts_at": "2036-12-24T10:00:00+02:00"}
    ).json()
    moved = admin.patch(
        f"/api/v1/meetings/{made['id']}",
        json={"starts_at": "2036-12-25T12:00:00+02:00", "status": "confirmed"},
    ).json()
    assert moved["status"] == "confirmed" and moved["reminder_sent_at"] is None
    params = {"starts_from": "2036-12-25T00:00:00+02:00", "lead_id": lead["id"]}
    hits = admin.get("/api/v1/meetings", params=params).json()["items"]
    assert [hit["id"] for hit in hits] == [made["id"]]


def test_an_agent_cannot_book_or_see_meetings_of_another_agents_lead(
    personas: dict[str, Any], admin: httpx.Client
) -> None:
    other = personas["other_agent"]
    lead = _lead(admin, assigned_agent_id=other.user_id)
    booked = admin.post(
        "/api/v1/meetings", json={"lead_id": lead["id"], "starts_at": "2036-12-24T10:00:00Z"}
    ).json()
    agent = personas["agent"].client
    denied = agent.post(
        "/api/v1/meetings", json={"lead_id": lead["id"], "starts_at": "2036-12-24T10:00:00Z"}
    )
    assert denied.status_code == 422
    assert agent.get(f"/api/v1/meetings/{booked['id']}").status_code == 404
    assert agent.get("/api/v1/meetings").json()["items"] == []


def test_a_meeting_for_an_unknown_property_is_a_422(admin: httpx.Client) -> None:
    lead = _lead(admin)
    body = {"lead_id": lead["id"], "starts_at": "2036-12-24T10:00:00Z", "property_id": "x" * 36}
    answer = admin.post("/api/v1/meetings", json=body)
    assert answer.status_code == 422 and answer.json()["field"] == "property_id"


def test_a_meeting_with_an_unknown_agent_is_a_422(admin: httpx.Client) -> None:
    # Schemathesis (docs/drills.md): an unknown agent_id was a foreign-key error, a 500.
    lead = _lead(admin)
    body = {"lead_id": lead["id"], "starts_at": "2036-12-24T10:00:00Z", "agent_id": "x" * 36}
    answer = admin.post("/api/v1/meetings", json=body)
    assert answer.status_code == 422 and answer.json()["field"] == "agent_id"
    made = admin.post("/api/v1/meetings", json={**body, "agent_id": None}).json()
    moved = admin.patch(f"/api/v1/meetings/{made['id']}", json={"agent_id": "y" * 36})
    assert moved.status_code == 422 and moved.json()["field"] == "agent_id"
    assert admin.get(f"/api/v1/meetings/{made['id']}").json()["agent_id"] == made["agent_id"]


def test_a_patch_may_not_null_what_every_meeting_has(admin: httpx.Client) -> None:
    # Schemathesis (docs/drills.md): {"starts_at": null} was a NOT NULL violation, a 500.
    lead = _lead(admin)
    body = {"lead_id": lead["id"], "starts_at": "2036-12-24T10:00:00Z"}
    made = admin.post("/api/v1/meetings", json=body).json()
    for field in ("starts_at", "duration_minutes", "status"):
        answer = admin.patch(f"/api/v1/meetings/{made['id']}", json={field: None})
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["field"] == field and "may not be null" in answer.json()["message"]
    assert admin.get(f"/api/v1/meetings/{made['id']}").json()["starts_at"] == made["starts_at"]
