"""A listing's files the agency sends to leads: its gallery photos and its brochure.

Admins add them (REST, the listing's page, ``ovenai properties files``). The bytes are
checked (the type by the file's signature, never by its name; WhatsApp's limits), sealed in
the media store under the listing's data key (scope ``property``: a listing is not a
person, but the store keeps nothing in the clear), and a photo gets a thumbnail made here.

Sending one goes through the outbox like any message (:func:`ovenai.outbox.queue.enqueue_file`):
the worker uploads the file to Meta the first time it sends it and reuses the media id Meta
gave for :data:`REUSE_FOR` (Meta keeps an upload 30 days), then uploads it again
(:class:`Uploads`). A campaign of 10,000 sends of one brochure is one upload.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import audit
from ovenai.auth import Actor
from ovenai.cloudapi import CloudApiClient
from ovenai.columns import new_id, utcnow
from ovenai.db import Database
from ovenai.errors import InvalidInput, NotFound, PermissionDenied
from ovenai.file_types import make_thumbnail, sniff
from ovenai.media import Download
from ovenai.media_store import MediaStore, read_sealed, write_sealed
from ovenai.models import Property, PropertyFile, PropertyFileRole

KEY_SCOPE = "property"
CONTENT = "content"
THUMBNAIL = "thumbnail"
MAX_PHOTOS = 10
REUSE_FOR = timedelta(days=29)
"""How long Meta's media id of an upload is reused: a day inside the 30 Meta keeps it."""

# What each role may be, by the bytes' signature, and how large (WhatsApp: images JPEG or
# PNG up to 5 MB; documents up to 100 MB, kept here to 20 MB so that a worker uploading one
# holds at most that in memory).
ALLOWED: dict[PropertyFileRole, tuple[frozenset[str], int]] = {
    PropertyFileRole.PHOTO: (frozenset({"image/jpeg", "image/png"}), 5 * 1024 * 1024),
    PropertyFileRole.BROCHURE: (frozenset({"application/pdf"}), 20 * 1024 * 1024),
}
MESSAGE_KIND = {PropertyFileRole.PHOTO: "image", PropertyFileRole.BROCHURE: "document"}
"""The WhatsApp message type that carries a file of each role."""


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A listing's file as the API and the pages show it."""

    id: str
    property_id: str
    role: str
    position: int
    filename: str
    mime_type: str
    size: int
    sha256: str
    has_thumbnail: bool
    uploaded_at: datetime | None  # when Meta last got it (None: not sent yet)
    created_at: datetime

    @property
    def message_kind(self) -> str:
        """``image`` or ``document``: how WhatsApp carries it."""
        return MESSAGE_KIND[PropertyFileRole(self.role)]


def _record(row: PropertyFile) -> FileRecord:
    return FileRecord(
        id=row.id,
        property_id=row.property_id,
        role=row.role,
        position=row.position,
        filename=row.filename,
        mime_type=row.mime_type,
        size=row.size,
        sha256=row.sha256,
        has_thumbnail=row.thumbnail_key is not None,
        uploaded_at=row.meta_uploaded_at,
        created_at=row.created_at,
    )


def storage_key(property_id: str, file_id: str, stream: str) -> str:
    """Where a listing file's stream is kept in the media store (ids only)."""
    return f"properties/{property_id}/{file_id}.{stream}"


def checked_type(role: PropertyFileRole, data: bytes) -> str:
    """The file's type as its bytes show it, if the role allows it; InvalidInput if not."""
    types, limit = ALLOWED[role]
    if not data:
        raise InvalidInput("the file is empty", field="file")
    if len(data) > limit:
        raise InvalidInput(
            f"the file is {len(data):,} bytes; a {role.value} may be at most {limit:,}",
            field="file",
        )
    found = sniff(data[:16]) or frozenset()
    allowed = sorted(found & types)
    if not allowed:
        wanted = " or ".join(sorted(t.split("/")[1].upper() for t in types))
        raise InvalidInput(f"a {role.value} must be a {wanted} file", field="file")
    return "image/jpeg" if "image/jpeg" in allowed else allowed[0]


def _clean_name(filename: str, mime_type: str) -> str:
    """The name leads see: no folders, at most 200 characters, an extension for the type."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()[:200] or "file"
    extension = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}[mime_type]
    if not name.lower().endswith((extension, ".jpeg") if extension == ".jpg" else extension):
        name += extension
    return name


async def add_file(
    db: Database,
    store: MediaStore,
    *,
    actor: Actor,
    property_id: str,
    role: PropertyFileRole,
    filename: str,
    data: bytes,
) -> FileRecord:
    """Keep a photo (added last to the gallery) or the brochure (replacing the one before)."""
    if not actor.is_admin:
        raise PermissionDenied("only admins may change listings")
    mime_type = checked_type(role, data)
    file_id = new_id()
    async with db.session() as session:
        if await session.get(Property, property_id) is None:
            raise NotFound(f"no property {property_id}")
        count, last = (
            await session.execute(
                select(func.count(), func.max(PropertyFile.position)).where(
                    PropertyFile.property_id == property_id, PropertyFile.role == role
                )
            )
        ).one()
    if role is PropertyFileRole.PHOTO and count >= MAX_PHOTOS:
        raise InvalidInput(
            f"a listing has at most {MAX_PHOTOS} photos; remove one first", field="file"
        )
    key = await db.vault.key(KEY_SCOPE, property_id, create=True)
    content_key = storage_key(property_id, file_id, CONTENT)
    await write_sealed(store, content_key, key, file_id, CONTENT, data)
    thumbnail_key = None
    if role is PropertyFileRole.PHOTO:
        thumbnail = await asyncio.to_thread(make_thumbnail, data)
        if thumbnail is None:
            await store.delete([content_key])
            raise InvalidInput("the photo cannot be read as an image", field="file")
        thumbnail_key = storage_key(property_id, file_id, THUMBNAIL)
        await write_sealed(store, thumbnail_key, key, file_id, THUMBNAIL, thumbnail)
    row = PropertyFile(
        id=file_id,
        property_id=property_id,
        role=role,
        position=0 if last is None else last + 1,
        filename=_clean_name(filename, mime_type),
        mime_type=mime_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_key=content_key,
        thumbnail_key=thumbnail_key,
        added_by_id=actor.user_id,
    )
    try:
        replaced = await _insert(db, actor, row)
    except BaseException:
        await store.delete(_keys(row))  # the row never landed: neither do its bytes
        raise
    await store.delete(replaced)
    return _record(row)


async def _insert(db: Database, actor: Actor, row: PropertyFile) -> list[str]:
    """Add the row (a brochure's replaces the one before); the stored keys it replaced."""
    replaced: list[str] = []
    async with db.session() as session:
        if row.role == PropertyFileRole.BROCHURE:
            for old in await _files(session, row.property_id, PropertyFileRole.BROCHURE):
                replaced += _keys(old)
                await session.delete(old)
        session.add(row)
        audit.record(
            session,
            actor=actor,
            action="property.file_added",
            subject_type="property",
            subject_id=row.property_id,
            details={"file": row.id, "role": row.role, "size": row.size},
        )
        await session.commit()
        await session.refresh(row)
    return replaced


async def _files(
    session: AsyncSession, property_id: str, role: PropertyFileRole | None = None
) -> list[PropertyFile]:
    query = select(PropertyFile).where(PropertyFile.property_id == property_id)
    if role is not None:
        query = query.where(PropertyFile.role == role)
    query = query.order_by(PropertyFile.role.desc(), PropertyFile.position, PropertyFile.id)
    return list((await session.scalars(query)).all())


def _keys(row: PropertyFile) -> list[str]:
    return [key for key in (row.storage_key, row.thumbnail_key) if key]


async def list_files(db: Database, *, property_id: str) -> list[FileRecord]:
    """The listing's photos in gallery order, then its brochure; NotFound for no listing."""
    async with db.session() as session:
        if await session.get(Property, property_id) is None:
            raise NotFound(f"no property {property_id}")
        return [_record(row) for row in await _files(session, property_id)]


async def get_file(db: Database, *, property_id: str, file_id: str) -> FileRecord:
    """One file of the listing; NotFound if it is not the listing's."""
    async with db.session() as session:
        row = await session.get(PropertyFile, file_id)
    if row is None or row.property_id != property_id:
        raise NotFound(f"no file {file_id} of property {property_id}")
    return _record(row)


async def remove_file(
    db: Database, store: MediaStore, *, actor: Actor, property_id: str, file_id: str
) -> None:
    """Delete a listing's file and its stored bytes. Messages already queued with it fail
    with "the file was removed" when their turn comes."""
    if not actor.is_admin:
        raise PermissionDenied("only admins may change listings")
    async with db.session() as session:
        row = await session.get(PropertyFile, file_id)
        if row is None or row.property_id != property_id:
            raise NotFound(f"no file {file_id} of property {property_id}")
        keys = _keys(row)
        await session.delete(row)
        audit.record(
            session,
            actor=actor,
            action="property.file_removed",
            subject_type="property",
            subject_id=property_id,
            details={"file": file_id, "role": row.role},
        )
        await session.commit()
    await store.delete(keys)


async def open_file(
    db: Database, store: MediaStore, *, property_id: str, file_id: str, thumbnail: bool = False
) -> Download:
    """A listing file's bytes (or its thumbnail), decrypted as they are read. Any signed-in
    user may see a listing's files: they are the agency's, not a lead's."""
    async with db.session() as session:
        row = await session.get(PropertyFile, file_id)
    if row is None or row.property_id != property_id:
        raise NotFound(f"no file {file_id} of property {property_id}")
    stored = row.thumbnail_key if thumbnail else row.storage_key
    if stored is None:
        raise NotFound(f"file {file_id} has no thumbnail")
    key = await db.vault.key(KEY_SCOPE, property_id)
    stream = THUMBNAIL if thumbnail else CONTENT
    chunks = read_sealed(store, stored, key, row.id, stream)
    if thumbnail:
        return Download(f"{row.id}-thumbnail.jpg", "image/jpeg", None, chunks)
    return Download(row.filename, row.mime_type, row.size, chunks)


ROLE_OF_KIND = {kind: role for role, kind in MESSAGE_KIND.items()}


async def header_file(
    session: AsyncSession, kind: str, *, file_id: str | None, property_id: str | None
) -> str | None:
    """The listing file a template's ``image`` or ``document`` header carries: the one
    asked for (InvalidInput if it is not a listing's file of that kind), else the listing's
    first photo or its brochure; None when there is none."""
    role = ROLE_OF_KIND[kind]
    if file_id is not None:
        row = await session.get(PropertyFile, file_id)
        if row is None or row.role != role:
            raise InvalidInput(f"{file_id} is not a listing's {role.value}", field="header_file_id")
        return row.id
    if property_id is None:
        return None
    first = (
        select(PropertyFile.id)
        .where(PropertyFile.property_id == property_id, PropertyFile.role == role)
        .order_by(PropertyFile.position, PropertyFile.id)
        .limit(1)
    )
    found: str | None = await session.scalar(first)
    return found


@dataclass(frozen=True, slots=True)
class Uploaded:
    """A listing file as a send carries it: Meta's media id, its name and message kind."""

    media_id: str
    filename: str
    kind: str  # "image" or "document"


class FileRemoved(Exception):
    """The file a queued message was to carry was removed from its listing meanwhile."""


class Uploads:
    """Meta's media ids of listing files, for the worker's sends.

    The first send of a file uploads it (``POST /{phone-number-id}/media``) and records the
    id with the time; every later send reuses it until :data:`REUSE_FOR` has passed, or
    until Meta answers that it no longer has it (:meth:`media_id` with ``renew``). One
    upload at a time per file in a process: a campaign's first hundred sends of one
    brochure wait for one upload rather than making a hundred.
    """

    def __init__(self, db: Database, store: MediaStore, client: CloudApiClient) -> None:
        self.db, self.store, self.client = db, store, client
        self._locks: dict[str, asyncio.Lock] = {}

    async def media_id(self, file_id: str, *, renew: bool = False) -> Uploaded:
        """Meta's media id of the file (with its name and kind) for a send; FileRemoved if
        the file is gone.
        CloudApiFailure from the upload propagates (the send's retry policy decides)."""
        lock = self._locks.setdefault(file_id, asyncio.Lock())
        async with lock:
            async with self.db.session() as session:
                row = await session.get(PropertyFile, file_id)
            if row is None:
                raise FileRemoved("the file was removed from its listing")
            fresh = row.meta_uploaded_at is not None and row.meta_uploaded_at > utcnow() - REUSE_FOR
            kind = MESSAGE_KIND[PropertyFileRole(row.role)]
            if row.meta_media_id is not None and fresh and not renew:
                return Uploaded(row.meta_media_id, row.filename, kind)
            media_id = await self._upload(row)
            async with self.db.session() as session:
                await session.execute(
                    update(PropertyFile)
                    .where(PropertyFile.id == file_id)
                    .values(meta_media_id=media_id, meta_uploaded_at=utcnow())
                )
                await session.commit()
            return Uploaded(media_id, row.filename, kind)

    async def _upload(self, row: PropertyFile) -> str:
        key = await self.db.vault.key(KEY_SCOPE, row.property_id)
        data = bytearray()
        async for chunk in read_sealed(self.store, row.storage_key, key, row.id, CONTENT):
            data += chunk
        return await self.client.upload_media(
            bytes(data), mime_type=row.mime_type, filename=row.filename
        )
