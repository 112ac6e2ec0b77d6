"""Export everything held about one person, as one JSON document or a zip of CSV files.

The CSV files start with a UTF-8 BOM so Excel shows Hebrew correctly. The files the person
sent (photos, documents: :mod:`ovenai.media`) are listed in both formats, and the zip holds
them decrypted under ``files/`` when the caller gives the media store.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import zipfile
from datetime import datetime, tzinfo
from typing import Any, Unpack

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import audit, media
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.conversations import open_message
from ovenai.db import Database
from ovenai.errors import InvalidInput
from ovenai.leads import open_leads, refuse_erased
from ovenai.media_store import MediaStore
from ovenai.meetings import open_meeting
from ovenai.models import (
    CampaignRecipient,
    ConsentEvent,
    Meeting,
    Message,
    PrivacyRequest,
    RequestedDocument,
)
from ovenai.privacy import Identity, find_subject, open_request, require_admin
from ovenai.sealing import CONSENT_EVENTS

FORMATS = ("json", "csv")
Document = dict[str, Any]


def _plain(value: Any, zone: tzinfo | None) -> Any:
    """JSON-ready values; times ISO 8601 with the offset of ``zone`` (as stored when None)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {key: _plain(item, zone) for key, item in dataclasses.asdict(value).items()}
    if isinstance(value, datetime):
        return (value if zone is None else value.astimezone(zone)).isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(item, zone) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item, zone) for key, item in value.items()}
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


async def _consent(session: AsyncSession, lead_id: str, key: bytes) -> list[Document]:
    query = select(ConsentEvent).where(ConsentEvent.lead_id == lead_id).order_by(ConsentEvent.at)
    return [
        {
            "at": row.at,
            "kind": row.kind,
            "category": row.category,
            "channel": row.channel,
            "actor": row.actor_label,
            "evidence": CONSENT_EVENTS.open_from(row, key, "evidence"),
        }
        for row in await session.scalars(query)
    ]


async def _requests(session: AsyncSession, lead_id: str) -> list[Document]:
    query = select(PrivacyRequest).where(PrivacyRequest.lead_id == lead_id)
    rows = await session.scalars(query.order_by(PrivacyRequest.requested_at))
    fields = ("id", "kind", "requested_at", "due_at", "completed_at", "requested_by")
    return [{name: getattr(row, name) for name in fields} for row in rows]


async def _documents(session: AsyncSession, lead_id: str) -> list[Document]:
    query = select(RequestedDocument).where(RequestedDocument.lead_id == lead_id)
    rows = await session.scalars(query.order_by(RequestedDocument.created_at))
    fields = ("name", "language", "asked_at", "media_file_id", "received_at")
    return [{name: getattr(row, name) for name in fields} for row in rows]


async def _campaigns(session: AsyncSession, lead_id: str) -> list[Document]:
    query = select(CampaignRecipient).where(CampaignRecipient.lead_id == lead_id)
    rows = await session.scalars(query.order_by(CampaignRecipient.created_at))
    fields = ("campaign_id", "outcome", "reason", "message_id", "created_at")
    return [{name: getattr(row, name) for name in fields} for row in rows]


async def gather(
    db: Database, *, actor: Actor, zone: tzinfo | None = None, **identity: Unpack[Identity]
) -> Document:
    """Everything about the person named (:func:`ovenai.privacy.find_subject`); recorded as a
    completed access request. An erased lead is Gone: nothing of it can be read any more.
    Times are written in ``zone`` (the agency's, as the API answers them; UTC when None)."""
    require_admin(actor)
    async with db.session() as session:
        lead = await find_subject(session, db, **identity)
        refuse_erased(lead.id, lead.erased_at)
        key = await db.vault.key("lead", lead.id)
        request = await open_request(session, actor=actor, kind="access", lead_id=lead.id)
        request.completed_at = utcnow()
        audit.record(session, actor=actor, action="export", subject_type="lead", subject_id=lead.id)
        await session.commit()
        messages = await session.scalars(
            select(Message).where(Message.lead_id == lead.id).order_by(Message.created_at)
        )
        meetings = await session.scalars(select(Meeting).where(Meeting.lead_id == lead.id))
        document = {
            "generated_at": utcnow(),
            "subject": (await open_leads(db.vault, [lead]))[0],
            "messages": [open_message(m, key) for m in messages],
            "meetings": [open_meeting(m, key) for m in meetings],
            "consent_history": await _consent(session, lead.id, key),
            "audit_entries": await audit.about(session, lead.id),
            "privacy_requests": await _requests(session, lead.id),
            "requested_documents": await _documents(session, lead.id),
            "campaigns": await _campaigns(session, lead.id),
        }
    records = await media.of_lead(db, lead.id)
    document["files"] = sorted(records.values(), key=lambda f: (f.received_at, f.id))
    plain: Document = _plain(document, zone)
    return plain


def to_json(document: Document) -> bytes:
    """One JSON document, Hebrew kept readable."""
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def _csv(rows: list[Document]) -> bytes:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or ["empty"])
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
                for k, v in row.items()
            }
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_csv_zip(document: Document) -> bytes:
    """A zip with one CSV file per table, each with a UTF-8 BOM for Excel."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _write_tables(archive, document)
    return buffer.getvalue()


def _write_tables(archive: zipfile.ZipFile, document: Document) -> None:
    tables = {"lead": [document["subject"]]}
    tables.update({name: value for name, value in document.items() if isinstance(value, list)})
    for name, rows in tables.items():
        archive.writestr(f"{name}.csv", _csv(rows))


async def _zip_with_files(
    db: Database, document: Document, lead_id: str, files: MediaStore
) -> bytes:
    """The CSV zip and, under ``files/``, each stored file decrypted chunk by chunk."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _write_tables(archive, document)
        async for name, chunks in media.lead_files(db, files, lead_id):
            with archive.open(f"files/{name}", "w", force_zip64=True) as entry:
                async for chunk in chunks:
                    entry.write(chunk)
    return buffer.getvalue()


async def export(
    db: Database,
    *,
    actor: Actor,
    fmt: str,
    files: MediaStore | None = None,
    zone: tzinfo | None = None,
    **identity: Unpack[Identity],
) -> bytes:
    """The export in the asked format (`json` or `csv`) of the person named, times in
    ``zone``; the csv zip holds the person's files too when ``files`` (the media store) is
    given."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}", field="format")
    document = await gather(db, actor=actor, zone=zone, **identity)
    if fmt == "json":
        return to_json(document)
    if files is None:
        return to_csv_zip(document)
    return await _zip_with_files(db, document, document["subject"]["id"], files)
