"""/api/v1/leads/{id}/documents: the documents a lead was asked for and which file answered
each (ovenai.document_checklist)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, Field

from ovenai import document_checklist
from ovenai.web.api.schemas import PublicModel, answer, list_model, public_model
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/leads/{lead_id}/documents", tags=["documents"])

DocumentPublic = public_model(
    document_checklist.Document,
    "DocumentPublic",
    "A document the lead was asked for: received once `media_file_id` names the lead's file"
    " an agent marked as it (null: still missing).",
)


class DocumentsRequest(BaseModel):
    """Which documents to ask for (each becomes a line of the checklist)."""

    model_config = ConfigDict(extra="forbid")

    documents: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=document_checklist.MAX_ITEMS
    )
    language: str | None = Field(None, pattern="^(he|en)$")


class DocumentsRequestedPublic(BaseModel):
    """The queued ``document_request_*`` message and the lead's whole checklist."""

    model_config = ConfigDict(extra="forbid")

    message_id: str
    documents: list[DocumentPublic]  # type: ignore[valid-type]


class DocumentMark(BaseModel):
    """The lead's stored file that is this document; null: not received after all."""

    model_config = ConfigDict(extra="forbid")

    media_file_id: str | None = Field(max_length=36)


@router.get("", response_model=list_model(DocumentPublic))
async def list_documents(
    lead_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> list[PublicModel]:
    """The lead's checklist in the order the documents were first asked."""
    found = await document_checklist.checklist(db, actor=actor, lead_id=lead_id)
    return [answer(DocumentPublic, document, settings.zone) for document in found]


@router.post("/request", status_code=202, response_model=DocumentsRequestedPublic)
async def request_documents(
    lead_id: str,
    body: DocumentsRequest,
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> DocumentsRequestedPublic:
    """Queue ``document_request_*`` in the lead's language (or ``language``) naming these
    documents, and add each to the checklist."""
    message, documents = await document_checklist.request(
        db,
        settings,
        actor=actor,
        lead_id=lead_id,
        names=body.documents,
        language=body.language,
        idempotency_key=idempotency_key,
    )
    return DocumentsRequestedPublic(
        message_id=message.id,
        documents=[answer(DocumentPublic, item, settings.zone) for item in documents],
    )


@router.put("/{document_id}", response_model=DocumentPublic)
async def mark_document(
    lead_id: str,
    document_id: str,
    body: DocumentMark,
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
) -> PublicModel:
    """Mark one of the lead's stored files as this document (null clears the mark)."""
    marked = await document_checklist.mark(
        db, actor=actor, lead_id=lead_id, document_id=document_id, media_file_id=body.media_file_id
    )
    return answer(DocumentPublic, marked, settings.zone)
