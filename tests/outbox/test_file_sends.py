"""A listing's photo and brochure sent through the outbox to the simulator: uploaded once,
reused, uploaded again when old or when Meta no longer has it, failed when removed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from tests.outbox.conftest import WABA_ID, config, make_lead, recently, send

from ovenai import property_files
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import InvalidInput
from ovenai.media_store import LocalStore
from ovenai.models import Lead, Message, MessageTemplate, Property, PropertyFile, PropertyFileRole
from ovenai.outbox.bucket_store import DatabaseBuckets
from ovenai.outbox.dispatcher import Dispatcher
from ovenai.outbox.rules import OutsideServiceWindow
from ovenai.templates import InvalidTemplateParameter
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio
FIXTURES = Path(__file__).parents[1] / "fixtures" / "property_files"
PHOTO = (FIXTURES / "living_room.jpg").read_bytes()
BROCHURE = (FIXTURES / "brochure.pdf").read_bytes()


async def _file(db: Database, store: LocalStore, role: PropertyFileRole) -> str:
    async with db.session() as session:
        prop = Property(city="חיפה", title="דירת גן")
        session.add(prop)
        await session.commit()
    data, name = (PHOTO, "גן.jpg") if role is PropertyFileRole.PHOTO else (BROCHURE, "חוברת")
    record = await property_files.add_file(
        db,
        store,
        actor=Actor.system(),
        property_id=prop.id,
        role=role,
        filename=name,
        data=data,
    )
    return record.id


def _dispatcher(db: Database, client: CloudApiClient, store: LocalStore) -> Dispatcher:
    uploads = property_files.Uploads(db, store, client)
    return Dispatcher(db, client, DatabaseBuckets(db), config(), uploads=uploads)


async def _lead_who_wrote(db: Database, control: SimControl) -> str:
    lead = await make_lead(db, wrote_at=recently())
    await control.inbound(**{"from": lead.phone, "type": "text", "text": "תמונות?", "wait": False})
    return lead.id


async def _message(db: Database, message_id: str) -> Message:
    async with db.session() as session:
        found = await session.get(Message, message_id)
    assert found is not None
    return found


async def _uploads(control: SimControl) -> int:
    return int((await control.stats())["counts"].get("media_uploads", 0))


async def test_a_photo_sent_to_three_leads_is_uploaded_once_and_goes_by_its_id(
    db: Database, client: CloudApiClient, control: SimControl, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path)
    photo = await _file(db, store, PropertyFileRole.PHOTO)
    leads = [await _lead_who_wrote(db, control) for _ in range(3)]
    queued = [await send(db, lead, file_id=photo, caption="הסלון") for lead in leads]

    await _dispatcher(db, client, store).drain()

    assert await _uploads(control) == 1
    sent = [m["body"] for m in (await control.outbox())["messages"]]
    assert [body["type"] for body in sent] == ["image"] * 3
    assert len({body["image"]["id"] for body in sent}) == 1
    assert all(body["image"]["caption"] == "הסלון" for body in sent)
    for each in queued:
        assert (await _message(db, each.id)).status == "sent"


async def test_a_brochure_goes_as_a_document_with_its_name(
    db: Database, client: CloudApiClient, control: SimControl, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path)
    brochure = await _file(db, store, PropertyFileRole.BROCHURE)
    lead = await _lead_who_wrote(db, control)
    queued = await send(db, lead, file_id=brochure)

    await _dispatcher(db, client, store).drain()

    (body,) = [m["body"] for m in (await control.outbox())["messages"]]
    assert body["type"] == "document" and body["document"]["filename"] == "חוברת.pdf"
    assert "caption" not in body["document"]
    assert (await _message(db, queued.id)).type == "document"


async def test_an_upload_older_than_29_days_is_made_again(
    db: Database, client: CloudApiClient, control: SimControl, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path)
    photo = await _file(db, store, PropertyFileRole.PHOTO)
    lead = await _lead_who_wrote(db, control)
    await send(db, lead, file_id=photo)
    await _dispatcher(db, client, store).drain()
    async with db.session() as session:
        await session.execute(
            update(PropertyFile)
            .where(PropertyFile.id == photo)
            .values(meta_uploaded_at=utcnow() - property_files.REUSE_FOR - timedelta(minutes=1))
        )
        await session.commit()

    await send(db, lead, file_id=photo)
    await _dispatcher(db, client, store).drain()

    first, second = [m["body"]["image"]["id"] for m in (await control.outbox())["messages"]]
    assert await _uploads(control) == 2 and first != second


async def test_when_meta_no_longer_has_the_upload_it_is_uploaded_again_and_sent(
    db: Database, client: CloudApiClient, control: SimControl, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path)
    photo = await _file(db, store, PropertyFileRole.PHOTO)
    lead = await _lead_who_wrote(db, control)
    await send(db, lead, file_id=photo)
    await _dispatcher(db, client, store).drain()
    # Meta's 30 days pass on its side while ours still thinks the upload is fresh.
    await control._call("POST", "media/clock", {"advance_s": 31 * 24 * 3600})
    again = await send(db, lead, file_id=photo)

    await _dispatcher(db, client, store).drain()

    assert (await _message(db, again.id)).status == "sent"
    assert await _uploads(control) == 2
    rejected = (await control.outbox())["rejected"]
    assert [r["code"] for r in rejected] == [131053]


async def test_a_file_removed_after_it_was_queued_fails_saying_so(
    db: Database, client: CloudApiClient, control: SimControl, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path)
    photo = await _file(db, store, PropertyFileRole.PHOTO)
    lead = await _lead_who_wrote(db, control)
    queued = await send(db, lead, file_id=photo)
    async with db.session() as session:
        row = await session.get(PropertyFile, photo)
        assert row is not None
        listing = row.property_id
    await property_files.remove_file(
        db, store, actor=Actor.system(), property_id=listing, file_id=photo
    )

    await _dispatcher(db, client, store).drain()

    failed = await _message(db, queued.id)
    assert failed.status == "failed" and failed.error_title == (
        "the file was removed from its listing"
    )
    assert (await control.outbox())["messages"] == [] and await _uploads(control) == 0


async def test_a_file_goes_only_inside_the_window_and_must_exist(
    db: Database, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path)
    photo = await _file(db, store, PropertyFileRole.PHOTO)
    lead = await make_lead(db, wrote_at=utcnow() - timedelta(hours=25))
    with pytest.raises(OutsideServiceWindow):
        await send(db, lead.id, file_id=photo)
    with pytest.raises(InvalidInput, match="no listing file"):
        await send(db, lead.id, file_id="no-such-file")
    async with db.session() as session:
        queued = await session.scalars(select(Message.id).where(Message.lead_id == lead.id))
        assert queued.all() == []


PHOTO_TEMPLATE = [
    {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1hZ2U="]}},
    {
        "type": "BODY",
        "text": "היי {{1}}, הנה הנכס ב{{2}}. מעוניין/ת לקבוע צפייה?",
        "example": {"body_text": [["דנה", "חיפה"]]},
    },
]


async def _photo_template(db: Database, client: CloudApiClient, control: SimControl) -> None:
    """``listing_photo_he``: approved at the simulator and in the registry."""
    await client.create_template(
        name="listing_photo_he", language="he", category="MARKETING", components=PHOTO_TEMPLATE
    )
    await control.review(name="listing_photo_he", status="APPROVED")
    async with db.session() as session:
        session.add(
            MessageTemplate(
                waba_id=WABA_ID,
                name="listing_photo_he",
                family="listing_photo",
                language="he",
                category="MARKETING",
                status="APPROVED",
                parameter_format="POSITIONAL",
                components=PHOTO_TEMPLATE,
            )
        )
        await session.commit()


async def test_a_template_with_an_image_header_carries_the_lead_s_listing_photo_outside_the_window(
    db: Database, client: CloudApiClient, control: SimControl, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path)
    await _photo_template(db, client, control)
    photo = await _file(db, store, PropertyFileRole.PHOTO)
    async with db.session() as session:
        listing = (await session.get(PropertyFile, photo)).property_id  # type: ignore[union-attr]
    lead = await make_lead(db, wrote_at=None)  # never wrote: a template is the only way
    async with db.session() as session:
        row = await session.get(Lead, lead.id)
        assert row is not None
        row.property_id = listing
        await session.commit()
    queued = await send(db, lead.id, template="listing_photo", params=["דנה", "חיפה"])

    await _dispatcher(db, client, store).drain()

    assert (await _message(db, queued.id)).status == "sent"
    (body,) = [m["body"] for m in (await control.outbox())["messages"]]
    (header,) = [c for c in body["template"]["components"] if c["type"] == "header"]
    assert header["parameters"][0]["type"] == "image"
    assert header["parameters"][0]["image"]["id"]
    assert await _uploads(control) == 1


async def test_a_template_with_an_image_header_and_no_listing_photo_is_refused_when_asked(
    seeded: Database, client: CloudApiClient, control: SimControl, tmp_path: Path
) -> None:
    db = seeded  # the seed templates too
    await _photo_template(db, client, control)
    brochure = await _file(db, LocalStore(tmp_path), PropertyFileRole.BROCHURE)
    lead = await make_lead(db, wrote_at=None)
    with pytest.raises(InvalidTemplateParameter, match="needs a photo of the listing"):
        await send(db, lead.id, template="listing_photo", params=["דנה", "חיפה"])
    with pytest.raises(InvalidInput, match="is not a listing's photo"):
        await send(
            db,
            lead.id,
            template="listing_photo",
            params=["דנה", "חיפה"],
            header_file_id=brochure,
        )
    with pytest.raises(InvalidTemplateParameter, match="no image or document header"):
        await send(
            db,
            lead.id,
            template="welcome_new_lead",
            params=["דנה", "חיפה"],
            header_file_id=brochure,
        )
