"""Dashboard: the lead page's document checklist — ask for documents on WhatsApp (the
agency's list as tick boxes, and one more typed), and mark which of the lead's files is
which document (ovenai.document_checklist)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ovenai import document_checklist
from ovenai.errors import InvalidInput, OvenAIError
from ovenai.web import i18n
from ovenai.web.dashboard.composer import lead_page, reason
from ovenai.web.dashboard.session import SessionActor, check_csrf
from ovenai.web.deps import DbDep, SettingsDep
from ovenai.web.i18n import N_

router = APIRouter(include_in_schema=False)
CsrfField = Annotated[str | None, Form()]
_CHOOSE = N_("Tick at least one document, or type one.")
_NAME = N_("A document's name may hold up to 200 characters, without ';'.")
_FILE = N_("Choose one of the files the lead sent that is stored.")


@router.post("/leads/{lead_id}/documents/request")
async def request_documents(
    request: Request,
    lead_id: str,
    db: DbDep,
    actor: SessionActor,
    settings: SettingsDep,
    document: Annotated[list[str] | None, Form(max_length=200)] = None,
    other: Annotated[str, Form(max_length=400)] = "",
    key: Annotated[str | None, Form(max_length=128)] = None,
    csrf: CsrfField = None,
) -> Response:
    """Send ``document_request_*`` naming the ticked documents; the checklist records them."""
    check_csrf(request, csrf)
    names = [*(document or []), other]
    try:
        await document_checklist.request(
            db, settings, actor=actor, lead_id=lead_id, names=names, idempotency_key=key or None
        )
    except OvenAIError as exc:
        words = i18n.translator(request)
        if isinstance(exc, InvalidInput) and exc.field == "documents":
            msgid = _NAME if exc.message.startswith("a document's name") else _CHOOSE
            message = words.gettext(msgid)
        else:
            message = reason(words, exc)
        return await lead_page(
            request, db, actor, lead_id, documents_error=message, status=exc.http_status
        )
    return RedirectResponse(f"/leads/{lead_id}#documents", status_code=303)


@router.post("/leads/{lead_id}/documents/{document_id}/mark")
async def mark_document(
    request: Request,
    lead_id: str,
    document_id: str,
    db: DbDep,
    actor: SessionActor,
    media_file_id: Annotated[str, Form(max_length=36)] = "",
    csrf: CsrfField = None,
) -> Response:
    """Mark a file as the document (an empty choice: not received)."""
    check_csrf(request, csrf)
    try:
        await document_checklist.mark(
            db,
            actor=actor,
            lead_id=lead_id,
            document_id=document_id,
            media_file_id=media_file_id or None,
        )
    except InvalidInput as exc:
        message = i18n.translator(request).gettext(_FILE)
        return await lead_page(
            request, db, actor, lead_id, documents_error=message, status=exc.http_status
        )
    return RedirectResponse(f"/leads/{lead_id}#documents", status_code=303)
