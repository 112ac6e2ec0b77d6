"""GET /api/v1/properties/{id}/matches: the leads a listing suits, best first, each with the
criteria that hold; the others with those that fail; an agent's answer reaches only the
leads they may see."""

from __future__ import annotations

import httpx

from conftest import Persona


def _lead(admin: httpx.Client, name: str, phone: str, **fields: object) -> str:
    answer = admin.post("/api/v1/leads", json={"name": name, "phone": phone, **fields})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_the_matches_of_a_listing_with_why_and_why_not(
    admin: httpx.Client, agent: httpx.Client, personas: dict[str, Persona]
) -> None:
    flat = admin.post(
        "/api/v1/properties",
        json={"city": "Haifa", "rooms": 4, "size_m2": 100, "price": 2_150_000},
    ).json()["id"]
    stretched = _lead(admin, "Noa", "050-100-0001", want_city="חיפה", want_budget_max=2_000_000)
    small = _lead(admin, "Ron", "050-100-0002", want_city="Haifa", want_size_min=120)
    other = personas["other_agent"].user_id
    _lead(admin, "Not hers", "050-100-0003", want_city="Haifa", assigned_agent_id=other)
    answer = admin.get(f"/api/v1/properties/{flat}/matches")
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["property_id"] == flat and found["tolerance"] == 0.1
    first = found["matches"][0]
    assert first["lead"]["id"] == stretched and first["lead"]["name"] == "Noa"
    assert first["reasons"] == [
        {
            "criterion": "city",
            "passed": True,
            "wanted": "חיפה",
            "offered": "Haifa",
            "within_tolerance": False,
        },
        {
            "criterion": "budget",
            "passed": True,
            "wanted": "≤ 2,000,000",
            "offered": "2,150,000",
            "within_tolerance": True,
        },
    ]
    assert [m["lead"]["name"] for m in found["matches"]] == ["Noa", "Not hers"]
    assert found["excluded"] == [
        {
            "lead_id": small,
            "reasons": [
                {
                    "criterion": "size",
                    "passed": False,
                    "wanted": "≥ 120",
                    "offered": "100",
                    "within_tolerance": False,
                }
            ],
        }
    ]
    mine = agent.get(f"/api/v1/properties/{flat}/matches").json()
    assert [m["lead"]["name"] for m in mine["matches"]] == ["Noa"]
    missing = admin.get("/api/v1/properties/01930000-0000-7000-8000-000000000000/matches")
    assert missing.status_code == 404
