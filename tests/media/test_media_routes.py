"""Agents see the files leads send: thumbnails and downloads through authenticated routes
(only for leads they may see, every download audited), the API's metadata and content, and
why a file is not there."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select, update

from conftest import LiveServer, Persona
from media.conftest import PDF, MediaWorld, jpeg_bytes
from ovenai.models import AuditEntry, Lead, Role
from ovenai.settings import Settings
from support.dashboard import make_user, sign_in

pytestmark = pytest.mark.anyio


async def _assign(world: MediaWorld, lead_id: str, user_id: str) -> None:
    async with world.db.session() as session:
        await session.execute(
            update(Lead).where(Lead.id == lead_id).values(assigned_agent_id=user_id)
        )
        await session.commit()


async def _downloads(world: MediaWorld) -> list[AuditEntry]:
    async with world.db.session() as session:
        query = select(AuditEntry).where(AuditEntry.action == "media.download")
        return list(await session.scalars(query))


async def test_the_api_gives_a_file_s_state_and_its_bytes_to_whoever_may_see_the_lead(
    world: MediaWorld, personas: dict[str, Persona]
) -> None:
    row = await world.send("document", PDF, filename="חוזה.pdf")
    agent, other = personas["agent"], personas["other_agent"]
    await _assign(world, row.lead_id, agent.user_id)

    pending = agent.client.get(f"/api/v1/messages/{row.message_id}/media")
    assert pending.status_code == 200
    assert (pending.json()["state"], pending.json()["kind"]) == ("pending", "document")
    assert agent.client.get(f"/api/v1/messages/{row.message_id}/media/content").status_code == 409

    await world.fetch()
    shown = agent.client.get(f"/api/v1/messages/{row.message_id}/media").json()
    assert (shown["state"], shown["size"], shown["filename"]) == ("stored", len(PDF), "חוזה.pdf")
    content = agent.client.get(f"/api/v1/messages/{row.message_id}/media/content")
    assert content.status_code == 200 and content.content == PDF
    assert content.headers["content-type"].startswith("application/pdf")
    assert content.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%D7%97" in content.headers["content-disposition"]

    assert other.client.get(f"/api/v1/messages/{row.message_id}/media").status_code == 404
    refused = other.client.get(f"/api/v1/messages/{row.message_id}/media/content")
    assert refused.status_code == 404
    [audited] = await _downloads(world)
    assert (audited.actor_id, audited.subject_id) == (agent.user_id, row.lead_id)


async def test_a_quarantined_file_is_never_served(
    world: MediaWorld, personas: dict[str, Persona]
) -> None:
    row = await world.send("document", PDF)
    await world.control._call("POST", "media/faults", {"corrupt": 1})
    await world.fetch()
    admin = personas["admin"].client
    shown = admin.get(f"/api/v1/messages/{row.message_id}/media").json()
    assert shown["state"] == "quarantined" and "SHA-256" in shown["error"]
    assert admin.get(f"/api/v1/messages/{row.message_id}/media/content").status_code == 409
    assert await _downloads(world) == []


@pytest.fixture
def signed_in(
    server: LiveServer, clean_db: Settings
) -> Iterator[dict[str, tuple[str, httpx.Client]]]:
    """Two agents signed in to the dashboard, each with a browser-like client."""
    people = {}
    for name in ("dana", "yossi"):
        email = f"{name}.media@example.co.il"
        user_id = make_user(clean_db, email, Role.AGENT)
        client = httpx.Client(base_url=server.url, headers={"Accept": "text/html"}, timeout=10)
        assert sign_in(client, email).status_code in (200, 303)
        people[name] = (user_id, client)
    yield people
    for _, client in people.values():
        client.close()


async def test_the_lead_page_shows_the_thumbnail_and_a_download_that_is_audited(
    world: MediaWorld, signed_in: dict[str, tuple[str, httpx.Client]]
) -> None:
    photo = jpeg_bytes((1200, 900))
    row = await world.send("image", photo)
    await world.fetch()
    (dana_id, dana), (_, yossi) = signed_in["dana"], signed_in["yossi"]
    await _assign(world, row.lead_id, dana_id)

    page = dana.get(f"/leads/{row.lead_id}/conversation")
    assert page.status_code == 200
    thumb_url = f"/leads/{row.lead_id}/media/{row.id}/thumbnail"
    assert thumb_url in page.text and f'href="/leads/{row.lead_id}/media/{row.id}"' in page.text
    thumbnail = dana.get(thumb_url)
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    assert thumbnail.content != photo and len(thumbnail.content) < len(photo)
    assert await _downloads(world) == []  # a thumbnail shown is not a download

    download = dana.get(f"/leads/{row.lead_id}/media/{row.id}")
    assert download.status_code == 200 and download.content == photo
    assert download.headers["content-disposition"].startswith("attachment;")
    [audited] = await _downloads(world)
    assert audited.actor_id == dana_id

    assert yossi.get(f"/leads/{row.lead_id}/media/{row.id}").status_code == 404
    assert yossi.get(thumb_url).status_code == 404
    assert len(await _downloads(world)) == 1


async def test_the_lead_page_says_why_a_file_is_missing(
    world: MediaWorld, signed_in: dict[str, tuple[str, httpx.Client]]
) -> None:
    row = await world.send("document", jpeg_bytes(), mime_type="application/pdf")
    dana_id, dana = signed_in["dana"]
    await _assign(world, row.lead_id, dana_id)
    before = dana.get(f"/leads/{row.lead_id}/conversation").text
    assert "media-pending" in before
    await world.fetch()
    after = dana.get(f"/leads/{row.lead_id}/conversation").text
    assert "media-quarantined" in after and "media-download" not in after
