"""The engagement score over the REST API: a lead's history (`GET /api/v1/leads/{id}/score`),
and the lead list sorted by score and filtered by it, paged without loss or repeat."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

_numbers = itertools.count(3456789)


def _lead(client: httpx.Client, **fields: object) -> dict[str, Any]:
    body = {"name": "דנה לוי", "phone": f"052-{next(_numbers):07d}", **fields}
    answer = client.post("/api/v1/leads", json=body)
    assert answer.status_code == 201, answer.text
    lead: dict[str, Any] = answer.json()
    return lead


def _all_pages(client: httpx.Client, **params: object) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = client.get("/api/v1/leads", params=query)
        assert answer.status_code == 200, answer.text
        seen += answer.json()["items"]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return seen


def test_sorted_by_score_the_pages_hold_every_lead_once_highest_first(
    admin: httpx.Client,
) -> None:
    made = [_lead(admin, engagement_score=score) for score in (30, 80, 0, 80, 5, 55, 80, 30)]
    seen = _all_pages(admin, sort="score", limit=2)
    # Highest first; among equal scores the newest (ids are time-ordered).
    expected = sorted(made, key=lambda lead: (lead["engagement_score"], lead["id"]), reverse=True)
    assert [lead["id"] for lead in seen] == [lead["id"] for lead in expected]
    assert [lead["engagement_score"] for lead in seen] == [80, 80, 80, 55, 30, 30, 5, 0]
    newest_first = _all_pages(admin, limit=3)
    assert [lead["id"] for lead in newest_first] == [lead["id"] for lead in reversed(made)]


def test_min_and_max_score_filter_the_list_sorted_either_way(admin: httpx.Client) -> None:
    for score in (0, 5, 30, 55, 80, 100):
        _lead(admin, engagement_score=score)
    warm = _all_pages(admin, min_score=5, max_score=55, sort="score", limit=2)
    assert [lead["engagement_score"] for lead in warm] == [55, 30, 5]
    hot = _all_pages(admin, min_score=80)
    assert [lead["engagement_score"] for lead in hot] == [100, 80]
    assert [lead["engagement_score"] for lead in _all_pages(admin, max_score=0)] == [0]


def test_bad_score_parameters_are_a_422_naming_the_field(admin: httpx.Client) -> None:
    _lead(admin, engagement_score=10)
    for params, field in (
        ({"min_score": 50, "max_score": 10}, "max_score"),
        ({"min_score": 101}, "min_score"),
        ({"sort": "loudest"}, "sort"),
        ({"sort": "score", "cursor": "x.AAAA"}, "cursor"),
        ({"sort": "score", "cursor": "50.bm90LWFuLWlk"}, "cursor"),
    ):
        answer = admin.get("/api/v1/leads", params=params)
        assert answer.status_code == 422, params
        assert field in answer.text, (params, answer.text)


def test_an_agent_sorting_by_score_sees_only_own_and_unassigned_leads(
    personas: dict[str, Any],
) -> None:
    admin, agent = personas["admin"].client, personas["agent"].client
    mine = _lead(admin, engagement_score=20, assigned_agent_id=personas["agent"].user_id)
    free = _lead(admin, engagement_score=10)
    _lead(admin, engagement_score=90, assigned_agent_id=personas["other_agent"].user_id)
    seen = _all_pages(agent, sort="score", limit=1)
    assert [lead["id"] for lead in seen] == [mine["id"], free["id"]]


def test_the_score_route_shows_why_newest_first_in_pages(
    admin: httpx.Client, personas: dict[str, Any]
) -> None:
    lead = _lead(admin, engagement_score=40)
    assert admin.patch(f"/api/v1/leads/{lead['id']}", json={"engagement_score": 60}).is_success
    body = {"lead_id": lead["id"], "starts_at": "2036-12-24T10:00:00Z", "status": "confirmed"}
    meeting = admin.post("/api/v1/meetings", json=body)
    assert meeting.status_code == 201, meeting.text
    answer = admin.get(f"/api/v1/leads/{lead['id']}/score")
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert (
        shown["score"] == 80 == admin.get(f"/api/v1/leads/{lead['id']}").json()["engagement_score"]
    )
    assert [(c["reason"], c["delta"], c["score"]) for c in shown["changes"]] == [
        ("booked", 20, 80),
        ("set", 20, 60),
        ("set", 40, 40),
    ]
    admin_id = personas["admin"].user_id
    sources = [change["source"] for change in shown["changes"]]
    assert sources == [meeting.json()["id"], f"user:{admin_id}", f"user:{admin_id}"]
    assert shown["changes"][0]["at"].endswith(("+02:00", "+03:00"))  # the agency's zone
    assert shown["next_cursor"] is None
    first = admin.get(f"/api/v1/leads/{lead['id']}/score", params={"limit": 2}).json()
    rest = admin.get(
        f"/api/v1/leads/{lead['id']}/score", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert first["changes"] + rest["changes"] == shown["changes"]
    assert rest["next_cursor"] is None


def test_the_score_of_a_lead_one_may_not_see_is_404_and_of_an_erased_one_410(
    personas: dict[str, Any],
) -> None:
    admin, agent = personas["admin"].client, personas["agent"].client
    theirs = _lead(admin, assigned_agent_id=personas["other_agent"].user_id)
    assert agent.get(f"/api/v1/leads/{theirs['id']}/score").status_code == 404
    assert admin.get("/api/v1/leads/" + "0" * 36 + "/score").status_code == 404
    erased = _lead(admin, engagement_score=50)
    assert admin.post("/api/v1/privacy/erase", json={"lead_id": erased["id"]}).status_code == 200
    assert admin.get(f"/api/v1/leads/{erased['id']}/score").status_code == 410
