"""/api/v1/leads over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from ovenai.columns import utcnow
from ovenai.db import open_database
from ovenai.models import Lead
from ovenai.settings import Settings
from support.aio import run_async

_numbers = itertools.count(2345678)


def new_phone() -> str:
    """A unique Israeli mobile number in local format."""
    return f"050-{next(_numbers):07d}"


def create(client: httpx.Client, **fields: object) -> dict[str, object]:
    body = {"name": "דנה לוי", "phone": new_phone(), **fields}
    answer = client.post("/api/v1/leads", json=body)
    assert answer.status_code == 201, answer.text
    lead: dict[str, object] = answer.json()
    return lead


def test_it_creates_a_lead_and_hebrew_round_trips_exactly(admin: httpx.Client) -> None:
    name = 'ישראל ישראלי 🏠 — "בדיקה"'
    lead = create(admin, name=name, notes="מחפש 4 חדרים בחיפה\nעם מרפסת", want_rooms_min=3.5)
    fetched = admin.get(f"/api/v1/leads/{lead['id']}").json()
    assert fetched["name"] == name
    assert fetched["notes"] == "מחפש 4 חדרים בחיפה\nעם מרפסת"
    assert fetched["want_rooms_min"] == 3.5
    assert fetched["language"] == "he" and fetched["stage"] == "new"
    assert fetched["created_at"].endswith(("+02:00", "+03:00"))


@pytest.mark.parametrize("form", ["050-765-4321", "0507654321", "+972-50-765-4321", "972507654321"])
def test_every_phone_form_finds_the_same_lead(admin: httpx.Client, form: str) -> None:
    lead = create(admin, phone="+972 50 765 4321")
    assert lead["phone"] == "+972507654321"
    found = admin.get("/api/v1/leads", params={"phone": form}).json()["items"]
    assert [item["id"] for item in found] == [lead["id"]]


def test_a_duplicate_phone_in_another_format_is_a_conflict(admin: httpx.Client) -> None:
    first = create(admin, phone="0527654321")
    answer = admin.post("/api/v1/leads", json={"name": "שוב", "phone": "+972-52-765-4321"})
    assert answer.status_code == 409
    assert answer.json()["field"] == "phone"
    assert answer.json()["lead_id"] == first["id"]  # admins see every lead: the UI links it
    assert len(admin.get("/api/v1/leads", params={"phone": "0527654321"}).json()["items"]) == 1


def test_an_invalid_phone_is_a_422_naming_the_field_and_stores_nothing(
    admin: httpx.Client,
) -> None:
    answer = admin.post("/api/v1/leads", json={"name": "x", "phone": "050-12"})
    assert answer.status_code == 422
    assert [f["field"] for f in answer.json()["fields"]] == ["phone"]
    assert admin.get("/api/v1/leads").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "phone": "0502345678", "favourite_colour": "blue"}, "favourite_colour"),
        ({"name": "x", "phone": "0502345678", "want_budget_max": "lots"}, "want_budget_max"),
        ({"name": "x" * 201, "phone": "0502345678"}, "name"),
        ({"name": "x", "phone": "0502345678", "stage": "maybe"}, "stage"),
        ({"name": "x", "phone": "0502345678", "language": "fr"}, "language"),
        ({"phone": "0502345678"}, "name"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    admin: httpx.Client, body: dict[str, object], field: str
) -> None:
    answer = admin.post("/api/v1/leads", json=body)
    assert answer.status_code == 422
    assert field in [f["field"] for f in answer.json()["fields"]]


def test_patch_changes_only_given_fields(admin: httpx.Client) -> None:
    lead = create(admin, want_city="חיפה")
    answer = admin.patch(f"/api/v1/leads/{lead['id']}", json={"stage": "contacted"})
    assert answer.status_code == 200
    assert answer.json()["stage"] == "contacted"
    assert answer.json()["want_city"] == "חיפה"
    assert answer.json()["name"] == lead["name"]


def test_patch_to_a_phone_of_another_lead_is_a_conflict(admin: httpx.Client) -> None:
    first = create(admin)
    second = create(admin)
    answer = admin.patch(f"/api/v1/leads/{second['id']}", json={"phone": first["phone"]})
    assert answer.status_code == 409


# The one answer for a phone an agent may not use (ovenai.leads.PHONE_REFUSED).
REFUSED = {
    "error": "Conflict",
    "message": "this phone number cannot be used for this lead; ask an admin",
    "field": "phone",
}


def _audit_about(admin: httpx.Client, lead_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = admin.get(
        "/api/v1/audit", params={"subject_id": lead_id}
    ).json()
    return [entry for entry in entries if entry["action"] == "phone_refused"]


def test_a_phone_of_another_agents_lead_is_refused_without_telling_whose(
    personas: dict[str, Any], admin: httpx.Client
) -> None:
    agent, other = personas["agent"], personas["other_agent"]
    theirs = create(other.client, phone="0521230001")
    created = agent.client.post("/api/v1/leads", json={"name": "x", "phone": "+972-52-123-0001"})
    mine = create(agent.client)
    patched = agent.client.patch(f"/api/v1/leads/{mine['id']}", json={"phone": "052 123 0001"})
    assert (created.status_code, created.json()) == (409, REFUSED)
    assert (patched.status_code, patched.json()) == (409, REFUSED)
    assert theirs["id"] not in created.text + patched.text
    assert agent.client.get(f"/api/v1/leads/{mine['id']}").json()["phone"] == mine["phone"]
    attempts = _audit_about(admin, str(theirs["id"]))
    assert [(e["actor"], e["details"]) for e in attempts] == [
        (agent.email, {"attempt": "update", "lead_id": mine["id"]}),
        (agent.email, {"attempt": "create"}),
    ]


def test_a_lead_being_erased_is_refused_in_the_same_words(
    personas: dict[str, Any], admin: httpx.Client, clean_db: Settings
) -> None:
    lead = create(admin, phone="0521230002")

    async def mark_erased() -> None:  # the erasure's first step (privacy.erase_lead)
        database = open_database(clean_db)
        try:
            await database.start()
            async with database.session() as session:
                await session.execute(
                    update(Lead).where(Lead.id == lead["id"]).values(erased_at=utcnow())
                )
                await session.commit()
        finally:
            await database.dispose()

    run_async(mark_erased)
    answer = personas["agent"].client.post(
        "/api/v1/leads", json={"name": "x", "phone": "0521230002"}
    )
    assert (answer.status_code, answer.json()) == (409, REFUSED)
    assert len(_audit_about(admin, str(lead["id"]))) == 1


def test_a_phone_of_a_lead_the_agent_sees_names_that_lead(personas: dict[str, Any]) -> None:
    agent = personas["agent"].client
    mine = create(agent, phone="0521230003")
    free = create(personas["admin"].client, phone="0521230004")
    second = create(agent)
    again = agent.post("/api/v1/leads", json={"name": "x", "phone": "+972521230003"})
    patched = agent.patch(f"/api/v1/leads/{second['id']}", json={"phone": "052-123-0004"})
    assert (again.status_code, again.json()["lead_id"]) == (409, mine["id"])
    assert (patched.status_code, patched.json()["lead_id"]) == (409, free["id"])
    assert patched.json()["field"] == "phone" and free["id"] in patched.json()["message"]


def test_two_agents_racing_for_one_phone_one_wins_the_other_is_refused_alike(
    personas: dict[str, Any],
) -> None:
    clients = [personas["agent"].client, personas["other_agent"].client]

    async def race() -> list[httpx.Response]:
        async def post(client: httpx.Client) -> httpx.Response:
            async with httpx.AsyncClient(
                base_url=str(client.base_url), headers=client.headers, timeout=10
            ) as racer:
                return await racer.post("/api/v1/leads", json={"name": "x", "phone": "0521230005"})

        return list(await asyncio.gather(*(post(client) for client in clients)))

    answers = sorted(run_async(race), key=lambda answer: answer.status_code)
    assert [answer.status_code for answer in answers] == [201, 409]
    assert answers[1].json() == REFUSED


def test_patch_refuses_null_for_a_required_field(admin: httpx.Client) -> None:
    lead = create(admin)
    answer = admin.patch(f"/api/v1/leads/{lead['id']}", json={"name": None})
    assert answer.status_code == 422


def test_search_finds_hebrew_and_english_names_by_word_prefix(admin: httpx.Client) -> None:
    dana = create(admin, name="דנה לוי")
    create(admin, name="Moshe Cohen")
    david = create(admin, name="David Levinson")
    hits = admin.get("/api/v1/leads", params={"q": "לו"}).json()["items"]
    assert [lead["id"] for lead in hits] == [dana["id"]]
    hits = admin.get("/api/v1/leads", params={"q": "levi"}).json()["items"]
    assert [lead["id"] for lead in hits] == [david["id"]]
    assert admin.get("/api/v1/leads", params={"q": "zzz"}).json()["items"] == []


def test_search_by_phone_in_the_q_box(admin: httpx.Client) -> None:
    lead = create(admin, phone="054-456-7890")
    hits = admin.get("/api/v1/leads", params={"q": "0544567890"}).json()["items"]
    assert [item["id"] for item in hits] == [lead["id"]]


def test_the_list_pages_with_a_cursor_newest_first(admin: httpx.Client) -> None:
    made = [create(admin)["id"] for _ in range(5)]
    first = admin.get("/api/v1/leads", params={"limit": 2}).json()
    second = admin.get("/api/v1/leads", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    third = admin.get("/api/v1/leads", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    seen = [lead["id"] for page in (first, second, third) for lead in page["items"]]
    assert seen == list(reversed(made))
    assert third["next_cursor"] is None


def test_a_forged_cursor_is_a_422(admin: httpx.Client) -> None:
    answer = admin.get("/api/v1/leads", params={"cursor": "not-a-cursor!"})
    assert answer.status_code == 422


def test_filters_by_stage(admin: httpx.Client) -> None:
    create(admin)
    won = create(admin, stage="won")
    hits = admin.get("/api/v1/leads", params={"stage": "won"}).json()["items"]
    assert [lead["id"] for lead in hits] == [won["id"]]


def test_without_a_token_it_is_401(anonymous: httpx.Client) -> None:
    answer = anonymous.get("/api/v1/leads")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


def test_a_wrong_token_is_401(anonymous: httpx.Client) -> None:
    answer = anonymous.get("/api/v1/leads", headers={"Authorization": "Bearer ovn_guess"})
    assert answer.status_code == 401


def test_an_agent_sees_own_and_unassigned_leads_only(
    personas: dict[str, Any], admin: httpx.Client
) -> None:
    agent, other = personas["agent"], personas["other_agent"]
    mine = create(admin, assigned_agent_id=agent.user_id)
    theirs = create(admin, assigned_agent_id=other.user_id)
    free = create(admin)
    seen = {lead["id"] for lead in agent.client.get("/api/v1/leads").json()["items"]}
    assert seen == {mine["id"], free["id"]}
    assert agent.client.get(f"/api/v1/leads/{theirs['id']}").status_code == 404
    patch = agent.client.patch(f"/api/v1/leads/{theirs['id']}", json={"stage": "lost"})
    assert patch.status_code == 404
    messages = agent.client.get(f"/api/v1/leads/{theirs['id']}/messages")
    assert messages.status_code == 404


def test_an_agent_may_not_assign_a_lead_to_someone_else(personas: dict[str, Any]) -> None:
    agent, other = personas["agent"], personas["other_agent"]
    lead = create(agent.client)
    assert lead["assigned_agent_id"] == agent.user_id
    answer = agent.client.patch(
        f"/api/v1/leads/{lead['id']}", json={"assigned_agent_id": other.user_id}
    )
    assert answer.status_code == 403


def test_a_new_lead_has_an_empty_conversation(admin: httpx.Client) -> None:
    lead = create(admin)
    assert admin.get(f"/api/v1/leads/{lead['id']}/messages").json() == []


def test_the_openapi_document_is_published(anonymous: httpx.Client) -> None:
    spec = anonymous.get("/api/v1/openapi.json").json()
    assert "/api/v1/leads" in spec["paths"]
    assert "/api/v1/meetings/{meeting_id}" in spec["paths"]
