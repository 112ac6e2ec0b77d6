"""Bidi overrides and isolates and NUL in free-text fields are refused with 422 naming the
field; the direction marks Hebrew text uses (RLM, LRM) are kept."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

OVERRIDE = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "RTL\u202eevil" shows as "RTLlive"


def _refused_fields(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 422, answer.text
    return [item["field"] for item in answer.json()["fields"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "RTL" + OVERRIDE + "evil"),
        ("notes", "before\x00after"),
        ("want_city", "תל אביב\u2066"),
        ("want_area", "\u202amerkaz"),
    ],
)
def test_a_lead_with_a_control_character_is_refused_naming_the_field(
    admin: httpx.Client, field: str, value: str
) -> None:
    body = {"name": "רון", "phone": "+972-52-111-2233", field: value}
    assert _refused_fields(admin.post("/api/v1/leads", json=body)) == [field]
    assert admin.get("/api/v1/leads").json()["items"] == []


def test_direction_marks_in_hebrew_text_are_kept(admin: httpx.Client) -> None:
    name = "דנה\u200f (Dana\u200e)"
    answer = admin.post("/api/v1/leads", json={"name": name, "phone": "+972-52-111-2233"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["name"] == name


def test_a_lead_update_is_refused_too(admin: httpx.Client) -> None:
    lead = admin.post("/api/v1/leads", json={"name": "רון", "phone": "+972-52-111-2233"}).json()
    answer = admin.patch(f"/api/v1/leads/{lead['id']}", json={"notes": "x" + OVERRIDE})
    assert _refused_fields(answer) == ["notes"]


@pytest.mark.parametrize("field", ["title", "city", "area", "address", "description"])
def test_a_property_with_a_control_character_is_refused(admin: httpx.Client, field: str) -> None:
    body: dict[str, Any] = {"city": "חיפה", field: "דירה\u2067 יפה"}
    assert _refused_fields(admin.post("/api/v1/properties", json=body)) == [field]


def test_meeting_notes_with_a_control_character_are_refused(admin: httpx.Client) -> None:
    lead = admin.post("/api/v1/leads", json={"name": "רון", "phone": "+972-52-111-2233"}).json()
    body = {"lead_id": lead["id"], "starts_at": "2036-12-24T10:00:00", "notes": "a\x00b"}
    assert _refused_fields(admin.post("/api/v1/meetings", json=body)) == ["notes"]
