"""The documents a lead was asked for, and which of the lead's files answered each.

A ``document_request_*`` template asks for documents in one sentence ("תעודת זהות, שלושה
תלושי שכר אחרונים ואישור עקרוני למשכנתא"). The agency's list is kept as items
(``OVENAI_DOCUMENTS_HE``/``_EN``, separated by ``;``): :func:`sentence` writes the items as
people write a list in the lead's language, and every request made through the product —
the automation rule when a lead reaches the contract stage, or an agent ticking documents on
the lead page or through the API (:func:`request`) — records each item asked
(:func:`record_asked`). Files the lead sends afterwards arrive as media
(:mod:`ovenai.media`); an agent marks which file is which document (:func:`mark`), and the
lead page shows the checklist: asked, received, missing.

A request sent as a plain template with parameters an agent typed is a message like any
other: its words are the agent's, so no checklist is made from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import audit, templates
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import InvalidInput, NotFound
from ovenai.leads import load_visible, open_leads
from ovenai.models import Lead, MediaFile, MediaState, Message, RequestedDocument
from ovenai.outbox import queue, rules
from ovenai.settings import Settings

FAMILY = "document_request"
MAX_ITEMS = 20
MAX_NAME = 200
_HEBREW = range(0x0590, 0x0600)


@dataclass(frozen=True)
class Document:
    """One line of a lead's checklist."""

    id: str
    name: str
    language: str
    asked_at: datetime
    message_id: str | None
    media_file_id: str | None
    received_at: datetime | None

    @property
    def received(self) -> bool:
        """Whether an agent marked a file as this document."""
        return self.media_file_id is not None


def items(value: str) -> list[str]:
    """The documents of a setting's value, in order (``;`` between them)."""
    return [item.strip() for item in value.split(";") if item.strip()]


def sentence(names: Sequence[str], language: str) -> str:
    """The documents as one would write them in a message: "א, ב וג" / "a, b and c".

    Hebrew joins the last with the letter ו, written onto the word ("ואישור"), with a maqaf
    when the word does not start with a Hebrew letter ("ו־3 תלושים").
    """
    if not names:
        raise InvalidInput("choose at least one document", field="documents")
    if len(names) == 1:
        return names[0]
    head, last = ", ".join(names[:-1]), names[-1]
    if language == "he":
        joined = f"ו{last}" if ord(last[0]) in _HEBREW else f"ו־{last}"
        return f"{head} {joined}"
    return f"{head} and {last}"


def _checked(names: Sequence[str]) -> list[str]:
    """The names stripped, each once, in order; InvalidInput when none or one is odd."""
    seen: list[str] = []
    for raw in names:
        name = " ".join(raw.split())
        if not name:
            continue
        if len(name) > MAX_NAME or ";" in name:
            raise InvalidInput(
                f"a document's name is at most {MAX_NAME} characters, without ';'",
                field="documents",
            )
        if name not in seen:
            seen.append(name)
    if not seen:
        raise InvalidInput("choose at least one document", field="documents")
    if len(seen) > MAX_ITEMS:
        raise InvalidInput(f"ask for at most {MAX_ITEMS} documents at once", field="documents")
    return seen


async def record_asked(
    session: AsyncSession,
    *,
    lead_id: str,
    names: Sequence[str],
    language: str,
    message_id: str | None,
) -> None:
    """Record (or renew) each document asked in the caller's transaction; a document asked
    again keeps the file already marked for it."""
    now = utcnow()
    query = select(RequestedDocument).where(
        RequestedDocument.lead_id == lead_id, RequestedDocument.name.in_(list(names))
    )
    known = {row.name: row for row in await session.scalars(query)}
    for name in names:
        row = known.get(name)
        if row is None:
            session.add(
                RequestedDocument(
                    lead_id=lead_id,
                    name=name,
                    language=language,
                    asked_at=now,
                    message_id=message_id,
                )
            )
        else:
            row.asked_at, row.message_id, row.language = now, message_id, language
    await session.flush()


def _document(row: RequestedDocument) -> Document:
    return Document(
        id=row.id,
        name=row.name,
        language=row.language,
        asked_at=row.asked_at,
        message_id=row.message_id,
        media_file_id=row.media_file_id,
        received_at=row.received_at,
    )


async def checklist(db: Database, *, actor: Actor, lead_id: str) -> list[Document]:
    """The lead's checklist, in the order the documents were first asked."""
    async with db.reading() as session:
        await load_visible(session, actor, lead_id)
        return await _rows(session, lead_id)


def _digest(names: Sequence[str], language: str | None) -> str:
    """SHA-256 of a documents request, for its Idempotency-Key (as queue.request_digest)."""
    canonical = json.dumps({"documents": list(names), "language": language}, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _rows(session: AsyncSession, lead_id: str) -> list[Document]:
    query = (
        select(RequestedDocument)
        .where(RequestedDocument.lead_id == lead_id)
        .order_by(RequestedDocument.created_at, RequestedDocument.id)
    )
    return [_document(row) for row in await session.scalars(query)]


async def request(
    db: Database,
    settings: Settings,
    *,
    actor: Actor,
    lead_id: str,
    names: Sequence[str],
    language: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[Message, list[Document]]:
    """Ask the lead for these documents with ``document_request_*`` in their language (or
    ``language``) through the outbox, and record each on the checklist."""
    chosen = _checked(names)
    digest = _digest(chosen, language)
    async with db.session() as session:
        lead = await load_visible(session, actor, lead_id, for_update=True)
        first = await queue.existing_send(session, idempotency_key, lead_id, digest)
        if first is not None:  # the same request again: its first answer (schemathesis: 500)
            return first, await _rows(session, lead_id)
        (record,) = await open_leads(db.vault, [lead])
        wanted = rules.template_language(language, record.language)
        values = await queue.default_values(session, lead=record, family=FAMILY, zone=settings.zone)
        values["documents"] = sentence(chosen, wanted)
        prepared = await templates.prepare_send(
            session,
            waba_id=settings.whatsapp_business_account_id or "",
            template=FAMILY,
            language=wanted,
            params=templates.fill_params(FAMILY, **values),
            fallback=False,
        )
        message = await queue.enqueue_template(
            session,
            db.vault,
            lead=record,
            prepared=prepared,
            sent_by_id=actor.user_id,
            idempotency_key=idempotency_key,
        )
        if idempotency_key is not None:
            message.idempotency_body = digest
        await session.flush()
        await record_asked(
            session,
            lead_id=lead_id,
            names=chosen,
            language=prepared.language,
            message_id=message.id,
        )
        audit.record(
            session,
            actor=actor,
            action="documents.request",
            subject_type="lead",
            subject_id=lead_id,
            details={"documents": len(chosen), "message": message.id},
        )
        await session.commit()
        return message, await _rows(session, lead_id)


async def mark(
    db: Database,
    *,
    actor: Actor,
    lead_id: str,
    document_id: str,
    media_file_id: str | None,
) -> Document:
    """Mark one of the lead's stored files as this document (None: not received after all)."""
    async with db.session() as session:
        lead: Lead = await load_visible(session, actor, lead_id, for_update=True)
        row = await session.get(RequestedDocument, document_id)
        if row is None or row.lead_id != lead.id:
            raise NotFound(f"no document {document_id} asked of lead {lead_id}")
        if media_file_id is not None:
            file = await session.get(MediaFile, media_file_id)
            if file is None or file.lead_id != lead.id:
                raise InvalidInput(f"lead {lead_id} sent no file {media_file_id}", field="file")
            if file.state != MediaState.STORED:
                raise InvalidInput(
                    f"file {media_file_id} is {file.state}, not stored: it cannot be a document",
                    field="file",
                )
        row.media_file_id = media_file_id
        row.received_at = utcnow() if media_file_id is not None else None
        row.marked_by_id = actor.user_id if media_file_id is not None else None
        audit.record(
            session,
            actor=actor,
            action="documents.mark",
            subject_type="lead",
            subject_id=lead_id,
            details={"document": document_id, "media_file": media_file_id},
        )
        await session.commit()
        return _document(row)
