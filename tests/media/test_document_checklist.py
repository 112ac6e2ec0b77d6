"""The documents a lead was asked for, and which file answered each: requested through the
API and the lead page (document_request_* through the outbox), marked by an agent with a file
the lead sent (fetched from the simulator), shown as asked / received / missing, exported
with the person and gone with their erasure."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select, update

from conftest import LiveServer, Persona
from media.conftest import PDF, MediaWorld, jpeg_bytes
from ovenai import document_checklist, privacy, privacy_export, templates
from ovenai.auth import Actor
from ovenai.errors import InvalidInput
from ovenai.models import AuditEntry, Lead, Message, RequestedDocument, Role
from ovenai.sealing import MESSAGES
from ovenai.settings import Settings
from support.dashboard import csrf_of, make_user, sign_in

pytestmark = pytest.mark.anyio

ID_CARD, PAYSLIPS = "תעודת זהות", "שלושה תלושי שכר אחרונים"


def test_a_list_is_written_as_people_write_one() -> None:
    assert document_checklist.sentence(["a"], "en") == "a"
    assert document_checklist.sentence(["a", "b", "c"], "en") == "a, b and c"
    he = document_checklist.sentence([ID_CARD, PAYSLIPS, "אישור עקרוני למשכנתא"], "he")
    assert he == "תעודת זהות, שלושה תלושי שכר אחרונים ואישור עקרוני למשכנתא"
    assert document_checklist.sentence([ID_CARD, "3 תלושים"], "he") == "תעודת זהות ו־3 תלושים"
    assert document_checklist.items(" א ;ב;; ג ") == ["א", "ב", "ג"]
    with pytest.raises(InvalidInput):
        document_checklist.sentence([], "he")


async def _seed(world: MediaWorld, settings: Settings) -> None:
    async with world.db.session() as session:
        await templates.load_seed(session, waba_id=settings.whatsapp_business_account_id or "")
        await session.commit()


async def _assign(world: MediaWorld, lead_id: str, user_id: str) -> None:
    async with world.db.session() as session:
        await session.execute(
            update(Lead).where(Lead.id == lead_id).values(assigned_agent_id=user_id)
        )
        await session.commit()


async def _text_of(world: MediaWorld, message_id: str) -> str:
    async with world.db.session() as session:
        row = await session.get(Message, message_id)
        assert row is not None
        key = await world.db.vault.key("lead", row.lead_id)
        return str(MESSAGES.open_from(row, key, "text"))


async def test_the_api_asks_marks_and_shows_the_checklist(
    world: MediaWorld, personas: dict[str, Persona], clean_db: Settings
) -> None:
    await _seed(world, clean_db)
    payslip = await world.send("document", PDF, filename="תלוש.pdf", name="דנה")
    await world.fetch()
    agent, other = personas["agent"], personas["other_agent"]
    await _assign(world, payslip.lead_id, agent.user_id)
    base = f"/api/v1/leads/{payslip.lead_id}/documents"

    asked = agent.client.post(f"{base}/request", json={"documents": [ID_CARD, PAYSLIPS]})

    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert [d["name"] for d in body["documents"]] == [ID_CARD, PAYSLIPS]
    assert all(d["media_file_id"] is None for d in body["documents"])
    text = await _text_of(world, body["message_id"])
    assert "תעודת זהות ושלושה תלושי שכר אחרונים" in text  # document_request_he, as written
    payslips_id = body["documents"][1]["id"]

    marked = agent.client.put(f"{base}/{payslips_id}", json={"media_file_id": payslip.id})
    assert marked.status_code == 200, marked.text
    assert marked.json()["media_file_id"] == payslip.id and marked.json()["received_at"]
    shown = agent.client.get(base).json()
    assert [(d["name"], d["media_file_id"]) for d in shown] == [
        (ID_CARD, None),
        (PAYSLIPS, payslip.id),
    ]

    # Asked again: the row is renewed, the file already marked stays.
    again = agent.client.post(f"{base}/request", json={"documents": [PAYSLIPS]})
    assert again.status_code == 202
    assert [d["media_file_id"] for d in again.json()["documents"]] == [None, payslip.id]

    cleared = agent.client.put(f"{base}/{payslips_id}", json={"media_file_id": None})
    assert cleared.json()["media_file_id"] is None and cleared.json()["received_at"] is None

    assert other.client.get(base).status_code == 404  # not their lead
    refused = other.client.put(f"{base}/{payslips_id}", json={"media_file_id": payslip.id})
    assert refused.status_code == 404
    unknown = agent.client.put(f"{base}/{payslips_id}", json={"media_file_id": "nope"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "file"
    empty = agent.client.post(f"{base}/request", json={"documents": ["  "]})
    assert empty.status_code == 422 and empty.json()["field"] == "documents"
    async with world.db.session() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.action.startswith("documents."))
            )
        )
    assert sorted(actions) == ["documents.mark"] * 2 + ["documents.request"] * 2


async def test_an_idempotency_key_answers_its_first_request_again(
    world: MediaWorld, personas: dict[str, Persona], clean_db: Settings
) -> None:
    # Schemathesis (docs/drills.md): the same Idempotency-Key twice was a UNIQUE violation
    # on messages.idempotency_key, answered 500.
    await _seed(world, clean_db)
    first = await world.send("document", PDF, filename="a.pdf", name="דנה")
    other = await world.send("document", PDF, filename="b.pdf", wa_id="972521230002")
    admin = personas["admin"].client
    key = {"Idempotency-Key": "ask-once"}
    asked = {"documents": [ID_CARD], "language": "he"}
    url = f"/api/v1/leads/{first.lead_id}/documents/request"
    one = admin.post(url, json=asked, headers=key)
    two = admin.post(url, json=asked, headers=key)
    assert one.status_code == two.status_code == 202, two.text
    assert two.json() == one.json()
    changed = admin.post(url, json={**asked, "documents": [PAYSLIPS]}, headers=key)
    assert changed.status_code == 422 and changed.json()["field"] == "Idempotency-Key"
    elsewhere = f"/api/v1/leads/{other.lead_id}/documents/request"
    assert admin.post(elsewhere, json=asked, headers=key).status_code == 409
    async with world.db.session() as session:
        sent = await session.scalar(
            select(func.count()).select_from(Message).where(Message.idempotency_key == "ask-once")
        )
    assert sent == 1


async def test_a_file_not_stored_cannot_be_a_document(
    world: MediaWorld, personas: dict[str, Persona], clean_db: Settings
) -> None:
    await _seed(world, clean_db)
    pending = await world.send("document", PDF, name="דנה")  # never fetched
    admin = personas["admin"].client
    base = f"/api/v1/leads/{pending.lead_id}/documents"
    asked = admin.post(f"{base}/request", json={"documents": [ID_CARD], "language": "he"})
    assert asked.status_code == 202, asked.text
    [document] = asked.json()["documents"]

    answer = admin.put(f"{base}/{document['id']}", json={"media_file_id": pending.id})

    assert answer.status_code == 422
    assert "pending, not stored" in answer.json()["message"]


async def test_the_checklist_is_exported_and_erased_with_the_person(
    world: MediaWorld, clean_db: Settings
) -> None:
    await _seed(world, clean_db)
    first = await world.send("document", PDF, wa_id="972521230001", name="דנה")
    second = await world.send("image", jpeg_bytes(), wa_id="972521230002", name="Yossi")
    await world.fetch()
    for row in (first, second):
        await document_checklist.request(
            world.db,
            clean_db,
            actor=Actor.system(),
            lead_id=row.lead_id,
            names=[ID_CARD],
            language="he",
        )
    assert first.lead_id != second.lead_id
    exported = await privacy_export.gather(world.db, actor=Actor.system(), lead_id=first.lead_id)
    assert [d["name"] for d in exported["requested_documents"]] == [ID_CARD]

    await privacy.erase_lead(world.db, actor=Actor.system(), lead_id=first.lead_id)

    async with world.db.session() as session:
        left = dict(
            (
                await session.execute(
                    select(RequestedDocument.lead_id, func.count()).group_by(
                        RequestedDocument.lead_id
                    )
                )
            ).all()
        )
    assert left == {second.lead_id: 1}  # the other person's checklist is untouched


@pytest.fixture
def dana(server: LiveServer, clean_db: Settings) -> Iterator[tuple[str, httpx.Client]]:
    email = "dana.documents@example.co.il"
    user_id = make_user(clean_db, email, Role.AGENT)
    client = httpx.Client(base_url=server.url, headers={"Accept": "text/html"}, timeout=10)
    assert sign_in(client, email).status_code in (200, 303)
    yield user_id, client
    client.close()


async def test_the_lead_page_asks_for_ticked_documents_and_marks_a_file(
    world: MediaWorld, dana: tuple[str, httpx.Client], clean_db: Settings
) -> None:
    await _seed(world, clean_db)
    row = await world.send("document", PDF, filename="תז.pdf", name="דנה")
    await world.fetch()
    dana_id, client = dana
    await _assign(world, row.lead_id, dana_id)

    views = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "view")
    async with world.db.session() as session:
        before = await session.scalar(views)
    page = client.get(f"/leads/{row.lead_id}")
    assert page.status_code == 200
    assert "עדיין לא התבקשו מסמכים" in page.text
    async with world.db.session() as session:
        assert await session.scalar(views) == (before or 0) + 1  # one page, one audited view
    for choice in document_checklist.items(clean_db.documents_he):
        assert f'value="{choice}"' in page.text  # the agency's list, as tick boxes
    form = {"csrf": csrf_of(page), "document": [ID_CARD], "other": "חוזה חתום", "key": "k-1"}
    sent = client.post(f"/leads/{row.lead_id}/documents/request", data=form)
    assert sent.status_code == 303 and sent.headers["location"].endswith("#documents")

    page = client.get(f"/leads/{row.lead_id}")
    assert "התקבלו 0 מתוך 2" in page.text
    assert page.text.count('class="document-missing"') == 2
    [first_id] = re.findall(r'/documents/([^/"]+)/mark', page.text)[:1]
    mark = {"csrf": csrf_of(page), "media_file_id": row.id}
    assert (
        client.post(f"/leads/{row.lead_id}/documents/{first_id}/mark", data=mark).status_code == 303
    )

    page = client.get(f"/leads/{row.lead_id}")
    assert "התקבלו 1 מתוך 2" in page.text
    assert 'class="document-received"' in page.text
    assert f'href="/leads/{row.lead_id}/media/{row.id}"' in page.text

    nothing = client.post(
        f"/leads/{row.lead_id}/documents/request",
        data={"csrf": csrf_of(page), "other": "", "key": "k-2"},
    )
    assert nothing.status_code == 422
    assert "סמנו לפחות מסמך אחד" in nothing.text
