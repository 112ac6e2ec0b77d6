"""The files leads send: recorded with their message, fetched by the worker, shown to agents.

An inbound image, video, audio, document or sticker carries only Meta's media id, which Meta
lets a business download for 7 days. Applying the message records a ``media_files`` row in
the same transaction (:func:`inbound_rows`, :func:`record_inbound`: never a download inside
the webhook request); the worker's ``media.fetch`` job (:mod:`ovenai.media_fetch`) fetches,
checks and stores it sealed under the lead's key (:mod:`ovenai.media_store`).

Agents read a stored file only through :func:`open_content` (authenticated routes, only a
lead the actor may see, each download audited); a quarantined file (its bytes differ from
what Meta declared) is never served as the lead's file. Erasure and retention delete the
files with their rows (:func:`delete_files`); the privacy export takes them decrypted
(:func:`lead_files`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import audit
from ovenai.auth import Actor
from ovenai.columns import new_id
from ovenai.db import Database
from ovenai.errors import Conflict, NotFound
from ovenai.events import InboundMessage
from ovenai.events.content import MediaContent
from ovenai.leads import load_visible
from ovenai.media_store import MediaStore, read_sealed
from ovenai.models import MediaFile, MediaState, Message
from ovenai.sealing import MEDIA_FILES

KINDS = frozenset({"image", "video", "audio", "document", "sticker"})
CONTENT = "content"
THUMBNAIL = "thumbnail"
_MEDIA: Table = cast(Table, MediaFile.__table__)
_CHUNK = 500  # ids per IN list
# The reasons media_fetch writes, by a marker of their text (first match wins).
_REASONS = (
    ("too_large", "over the limit"),
    ("too_old", "days"),
    ("meta_could_not_download", "131052"),
    ("checksum", "SHA-256"),
    ("wrong_size", "bytes than"),
    ("wrong_size", "bytes, not the"),
    ("wrong_type", "Meta declared"),
)
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "application/pdf": ".pdf",
    "video/mp4": ".mp4",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
}


@dataclass(frozen=True)
class MediaRecord:
    """A lead's file as agents and the API see it (no bytes)."""

    id: str
    message_id: str
    lead_id: str
    kind: str
    state: str
    mime_type: str | None
    size: int | None
    filename: str | None
    error: str | None
    attempts: int
    has_thumbnail: bool
    received_at: datetime
    stored_at: datetime | None

    @property
    def available(self) -> bool:
        """Whether the file may be downloaded (stored, not quarantined)."""
        return self.state == MediaState.STORED

    @property
    def reason(self) -> str | None:
        """Why a file is not available, as a key the pages translate (None: it is, or it
        is still being fetched)."""
        if self.state not in (MediaState.FAILED, MediaState.QUARANTINED):
            return None
        error = self.error or ""
        for key, marker in _REASONS:
            if marker in error:
                return key
        return "quarantined" if self.state == MediaState.QUARANTINED else "failed"


@dataclass
class Download:
    """A file being served: its name, type, size and decrypted chunks."""

    filename: str
    mime_type: str
    size: int | None
    chunks: AsyncIterator[bytes]


def _media_of(event: InboundMessage) -> MediaContent | None:
    content = event.content
    if isinstance(content, MediaContent) and content.media_id and content.media_kind in KINDS:
        return content
    return None


def inbound_rows(
    key: bytes, lead_id: str, message_id: str, event: InboundMessage
) -> dict[str, Any] | None:
    """The ``media_files`` row of an inbound message for a Core INSERT (None: no media)."""
    content = _media_of(event)
    if content is None:
        return None
    row_id = new_id()
    return {
        "id": row_id,
        "message_id": message_id,
        "lead_id": lead_id,
        "media_id": str(content.media_id)[:128],
        "kind": content.media_kind,
        "declared_mime": (content.mime_type or None) and str(content.mime_type)[:255],
        "declared_sha256": (content.sha256 or None) and str(content.sha256)[:128],
        "declared_size": None,
        "state": MediaState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": event.timestamp,
        "received_at": event.timestamp,
        "resend_asked": False,
        "created_at": event.timestamp,
        "updated_at": event.timestamp,
        **MEDIA_FILES.sealed(key, row_id, {"filename": content.filename}),
    }


async def insert_inbound(session: AsyncSession, rows: Sequence[dict[str, Any] | None]) -> int:
    """Insert the media rows of a run of inbound messages (Nones skipped); how many."""
    kept = [row for row in rows if row is not None]
    if kept:
        await session.execute(insert(_MEDIA), kept)
    return len(kept)


async def record_inbound(
    session: AsyncSession, key: bytes, message: Message, event: InboundMessage
) -> None:
    """Record the file of one inbound message applied alone (flushed with the message)."""
    row = inbound_rows(key, message.lead_id, message.id, event)
    if row is not None:
        await session.flush()  # the message row first: the media row refers to it
        await session.execute(insert(_MEDIA), [row])


def _record(row: MediaFile, key: bytes | None) -> MediaRecord:
    filename = MEDIA_FILES.open_from(row, key, "filename") if key is not None else None
    return MediaRecord(
        id=row.id,
        message_id=row.message_id,
        lead_id=row.lead_id,
        kind=row.kind,
        state=row.state,
        mime_type=row.mime_type or row.declared_mime,
        size=row.stored_size if row.state == MediaState.STORED else row.declared_size,
        filename=filename,
        error=row.error,
        attempts=row.attempts,
        has_thumbnail=row.thumbnail_key is not None and row.state == MediaState.STORED,
        received_at=row.received_at,
        stored_at=row.stored_at,
    )


async def of_lead(db: Database, lead_id: str) -> dict[str, MediaRecord]:
    """The files of a lead by message id (callers have checked the actor may see it)."""
    async with db.reading() as session:
        rows = list(await session.scalars(select(MediaFile).where(MediaFile.lead_id == lead_id)))
    if not rows:
        return {}
    key = await db.vault.key("lead", lead_id)
    return {row.message_id: _record(row, key) for row in rows}


async def get(db: Database, *, actor: Actor, lead_id: str, media_id: str) -> MediaRecord:
    """One file of a lead the actor may see; NotFound otherwise."""
    async with db.reading() as session:
        await load_visible(session, actor, lead_id)
        row = await session.get(MediaFile, media_id)
    if row is None or row.lead_id != lead_id:
        raise NotFound(f"no file {media_id} of lead {lead_id}")
    return _record(row, await db.vault.key("lead", lead_id))


async def of_message(db: Database, *, actor: Actor, message_id: str) -> MediaRecord:
    """The file of a message whose lead the actor may see; NotFound otherwise."""
    async with db.reading() as session:
        row = await session.scalar(select(MediaFile).where(MediaFile.message_id == message_id))
        if row is None:
            raise NotFound(f"message {message_id} has no file")
        await load_visible(session, actor, row.lead_id)
    return _record(row, await db.vault.key("lead", row.lead_id))


async def open_content(
    db: Database,
    store: MediaStore,
    *,
    actor: Actor,
    lead_id: str,
    media_id: str,
    thumbnail: bool = False,
    via: str = "dashboard",
) -> Download:
    """The decrypted file (or its thumbnail) for a person who may see the lead.

    A download is audited (``media.download``); a thumbnail is not (the conversation that
    shows it is audited already). Conflict while the file is not stored, or when it was
    quarantined (never served as the lead's file); NotFound for a thumbnail never made.
    """
    async with db.session() as session:
        await load_visible(session, actor, lead_id)
        row = await session.get(MediaFile, media_id)
        if row is None or row.lead_id != lead_id:
            raise NotFound(f"no file {media_id} of lead {lead_id}")
        if row.state != MediaState.STORED or row.storage_key is None:
            raise Conflict(f"the file is {row.state}: {row.error or 'not stored yet'}")
        stored_key = row.thumbnail_key if thumbnail else row.storage_key
        if stored_key is None:
            raise NotFound(f"file {media_id} has no thumbnail")
        if not thumbnail:
            audit.record(
                session,
                actor=actor,
                action="media.download",
                subject_type="lead",
                subject_id=lead_id,
                details={"media_file": media_id, "via": via},
            )
            await session.commit()
    key = await db.vault.key("lead", lead_id)
    record = _record(row, key)
    stream = THUMBNAIL if thumbnail else CONTENT
    chunks = read_sealed(store, stored_key, key, row.id, stream)
    if thumbnail:
        return Download(f"{row.id}-thumbnail.jpg", "image/jpeg", None, chunks)
    mime = record.mime_type or "application/octet-stream"
    return Download(filename_for(record), mime, record.size, chunks)


def filename_for(record: MediaRecord) -> str:
    """The name a download is saved under: the lead's file name, else kind, id and type."""
    if record.filename:
        return record.filename.replace("/", "_").replace("\\", "_")
    base = (record.mime_type or "").split(";")[0].strip()
    return f"{record.kind}-{record.id}{_EXTENSIONS.get(base, '')}"


def _keys_of(row: Any) -> list[str]:
    return [key for key in (row.storage_key, row.thumbnail_key) if key]


async def delete_files(
    session: AsyncSession,
    store: MediaStore,
    *,
    lead_ids: Iterable[str] = (),
    message_ids: Iterable[str] = (),
    ids: Iterable[str] = (),
) -> int:
    """Delete the stored files (and their rows) of these leads or messages; how many rows.

    Called before the rows' messages or leads go (erasure, retention): the key shred would
    make the files unreadable anyway, they are deleted all the same.
    """
    count = 0
    by = (
        (_MEDIA.c.lead_id, list(lead_ids)),
        (_MEDIA.c.message_id, list(message_ids)),
        (_MEDIA.c.id, list(ids)),
    )
    for column, values in by:
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            query = select(_MEDIA.c.id, _MEDIA.c.storage_key, _MEDIA.c.thumbnail_key)
            rows = (await session.execute(query.where(column.in_(chunk)))).all()
            if not rows:
                continue
            await store.delete([key for row in rows for key in _keys_of(row)])
            await session.execute(delete(_MEDIA).where(_MEDIA.c.id.in_([r.id for r in rows])))
            count += len(rows)
    return count


async def lead_files(
    db: Database, store: MediaStore, lead_id: str
) -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
    """(name in the export, decrypted chunks) of each stored file of a lead (the export)."""
    async with db.reading() as session:
        query = select(MediaFile).where(
            MediaFile.lead_id == lead_id, MediaFile.state == MediaState.STORED
        )
        rows = list(await session.scalars(query.order_by(MediaFile.received_at, MediaFile.id)))
    if not rows:
        return
    key = await db.vault.key("lead", lead_id)
    for row in rows:
        if row.storage_key is None:
            continue
        record = _record(row, key)
        name = f"{row.received_at:%Y%m%d-%H%M%S}-{row.id[:8]}-{filename_for(record)}"
        yield name, read_sealed(store, row.storage_key, key, row.id, CONTENT)


async def mark_erased(session: AsyncSession, lead_id: str) -> int:
    """An erased lead's files: never fetched or served again, their names blanked, kept
    only until :func:`purge_erased` deletes them from the store (how many)."""
    result = await session.execute(
        update(_MEDIA)
        .where(_MEDIA.c.lead_id == lead_id)
        .values(state=MediaState.ERASED.value, filename_enc=None, claimed_until=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_erased(
    session: AsyncSession, store: MediaStore, *, lead_id: str | None = None
) -> int:
    """Delete the stored files of erased leads (of one lead, or every one), then their rows.

    Erasure calls it when it has the store at hand; the worker's media job calls it for
    whatever an erasure without one left (the command line, another process).
    """
    query = select(_MEDIA.c.lead_id).where(_MEDIA.c.state == MediaState.ERASED.value)
    if lead_id is not None:
        query = query.where(_MEDIA.c.lead_id == lead_id)
    leads = sorted(set(await session.scalars(query.distinct())))
    if not leads:
        return 0
    erased = select(_MEDIA.c.id).where(
        _MEDIA.c.state == MediaState.ERASED.value, _MEDIA.c.lead_id.in_(leads)
    )
    return await delete_files(session, store, ids=list(await session.scalars(erased)))
