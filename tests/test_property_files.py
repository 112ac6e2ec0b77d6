"""A listing's photos and brochure: checked by their bytes, sealed, thumbnailed, replaced."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from ovenai import property_files
from ovenai.auth import Actor, Role
from ovenai.db import Database
from ovenai.errors import InvalidInput, NotFound, PermissionDenied
from ovenai.media_store import MAGIC, LocalStore
from ovenai.models import AuditEntry, Property, PropertyFileRole

pytestmark = pytest.mark.anyio
FIXTURES = Path(__file__).parent / "fixtures" / "property_files"
PHOTO = (FIXTURES / "living_room.jpg").read_bytes()
BROCHURE = (FIXTURES / "brochure.pdf").read_bytes()
ADMIN = Actor.system()
AGENT = Actor(user_id=None, role=Role.AGENT, email="agent@example.co.il")


async def _listing(db: Database) -> str:
    async with db.session() as session:
        prop = Property(city="חיפה", title="דירת 4 חדרים בכרמל")
        session.add(prop)
        await session.commit()
        return prop.id


async def _add(
    db: Database, store: LocalStore, listing: str, role: PropertyFileRole, data: bytes, name: str
) -> property_files.FileRecord:
    return await property_files.add_file(
        db, store, actor=ADMIN, property_id=listing, role=role, filename=name, data=data
    )


async def _read(db: Database, store: LocalStore, listing: str, file_id: str, **kw: bool) -> bytes:
    download = await property_files.open_file(db, store, property_id=listing, file_id=file_id, **kw)
    return b"".join([chunk async for chunk in download.chunks])


async def test_a_photo_is_kept_sealed_with_a_thumbnail_and_read_back_whole(
    db: Database, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path)
    listing = await _listing(db)
    record = await _add(db, store, listing, PropertyFileRole.PHOTO, PHOTO, "C:\\tmp\\סלון")

    assert record.mime_type == "image/jpeg" and record.size == len(PHOTO)
    assert record.filename == "סלון.jpg"  # no folders; the type's extension
    assert record.message_kind == "image" and record.has_thumbnail
    stored = (tmp_path / property_files.storage_key(listing, record.id, "content")).read_bytes()
    assert stored.startswith(MAGIC) and PHOTO[200:264] not in stored  # sealed, not plain
    assert await _read(db, store, listing, record.id) == PHOTO
    thumbnail = await _read(db, store, listing, record.id, thumbnail=True)
    assert thumbnail.startswith(b"\xff\xd8\xff") and len(thumbnail) < len(PHOTO)
    async with db.session() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "property.file_added" in actions


@pytest.mark.parametrize(
    ("role", "data", "problem"),
    [
        (PropertyFileRole.PHOTO, BROCHURE, "must be a JPEG or PNG"),  # a PDF called a photo
        (PropertyFileRole.BROCHURE, PHOTO, "must be a PDF"),
        (PropertyFileRole.PHOTO, b"", "empty"),
        (PropertyFileRole.PHOTO, b"GIF89a" + bytes(100), "must be a JPEG or PNG"),
        (PropertyFileRole.PHOTO, PHOTO[:3] + bytes(5 * 1024 * 1024), "at most"),
        (PropertyFileRole.PHOTO, b"\xff\xd8\xff" + bytes(500), "cannot be read"),
    ],
)
async def test_a_file_of_the_wrong_kind_or_size_is_refused_and_nothing_is_kept(
    db: Database, tmp_path: Path, role: PropertyFileRole, data: bytes, problem: str
) -> None:
    store = LocalStore(tmp_path)
    listing = await _listing(db)
    with pytest.raises(InvalidInput, match=problem):
        await _add(db, store, listing, role, data, "x")
    assert await property_files.list_files(db, property_id=listing) == []
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


async def test_photos_keep_their_order_up_to_ten_and_a_new_brochure_replaces_the_old(
    db: Database, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path)
    listing = await _listing(db)
    photos = [
        await _add(db, store, listing, PropertyFileRole.PHOTO, PHOTO, f"{n}.jpg")
        for n in range(property_files.MAX_PHOTOS)
    ]
    with pytest.raises(InvalidInput, match="at most 10 photos"):
        await _add(db, store, listing, PropertyFileRole.PHOTO, PHOTO, "11.jpg")
    first = await _add(db, store, listing, PropertyFileRole.BROCHURE, BROCHURE, "old.pdf")
    second = await _add(db, store, listing, PropertyFileRole.BROCHURE, BROCHURE, "new")

    found = await property_files.list_files(db, property_id=listing)
    assert [f.id for f in found] == [p.id for p in photos] + [second.id]
    assert [f.position for f in found[:3]] == [0, 1, 2] and found[-1].filename == "new.pdf"
    old_key = tmp_path / property_files.storage_key(listing, first.id, "content")
    assert not old_key.exists()
    with pytest.raises(NotFound):
        await _read(db, store, listing, first.id)


async def test_removing_a_file_deletes_its_bytes_and_only_admins_change_files(
    db: Database, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path)
    listing, other = await _listing(db), await _listing(db)
    photo = await _add(db, store, listing, PropertyFileRole.PHOTO, PHOTO, "a.jpg")
    with pytest.raises(PermissionDenied):
        await _add_as(db, store, AGENT, listing)
    with pytest.raises(PermissionDenied):
        await property_files.remove_file(
            db, store, actor=AGENT, property_id=listing, file_id=photo.id
        )
    with pytest.raises(NotFound):  # not that listing's file
        await property_files.remove_file(
            db, store, actor=ADMIN, property_id=other, file_id=photo.id
        )
    await property_files.remove_file(db, store, actor=ADMIN, property_id=listing, file_id=photo.id)
    assert await property_files.list_files(db, property_id=listing) == []
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


async def _add_as(db: Database, store: LocalStore, actor: Actor, listing: str) -> None:
    await property_files.add_file(
        db,
        store,
        actor=actor,
        property_id=listing,
        role=PropertyFileRole.PHOTO,
        filename="a.jpg",
        data=PHOTO,
    )


async def test_files_of_a_listing_that_does_not_exist_are_not_found(
    db: Database, tmp_path: Path
) -> None:
    with pytest.raises(NotFound):
        await property_files.list_files(db, property_id="no-such-listing")
    with pytest.raises(NotFound):
        await _add(db, LocalStore(tmp_path), "no-such-listing", PropertyFileRole.PHOTO, PHOTO, "a")
