"""A listing's photos and brochure on its page: added and removed by admins, seen by all.

``POST /properties/{id}/files`` takes the multipart form (a photo or the brochure) and goes
back to the listing, or shows it again with the reason (wrong type, too large, ten photos
already) beside the form; ``POST /properties/{id}/files/{file}/remove`` removes one. The
thumbnails (made on the server) and the files themselves are served only to signed-in users
(:func:`ovenai.property_files.open_file`), never from a public address.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.datastructures import UploadFile

from ovenai import media_store, property_files
from ovenai.errors import InvalidInput
from ovenai.models import PropertyFileRole
from ovenai.web import i18n
from ovenai.web.dashboard.properties_pages import property_page
from ovenai.web.dashboard.session import SessionActor, check_csrf
from ovenai.web.deps import DbDep, get_settings
from ovenai.web.downloads import file_response
from ovenai.web.i18n import N_

router = APIRouter(include_in_schema=False)
_NO_FILE = N_("Choose a file first.")
_WRONG_TYPE = N_("A photo must be a JPEG or PNG file, a brochure a PDF file.")
_TOO_LARGE = N_("The file is too large: a photo may be up to 5 MB, a brochure up to 20 MB.")
_TOO_MANY = N_("A listing has at most %(num)d photos: remove one first.")
_UNREADABLE = N_("The photo cannot be read as an image.")


def _reason(request: Request, exc: InvalidInput) -> str:
    words = i18n.translator(request)
    text = str(exc)
    if "at most" in text and "photos" in text:
        return words.gettext(_TOO_MANY, num=property_files.MAX_PHOTOS)
    if "bytes" in text:
        return words.gettext(_TOO_LARGE)
    if "cannot be read" in text:
        return words.gettext(_UNREADABLE)
    if "empty" in text:
        return words.gettext(_NO_FILE)
    return words.gettext(_WRONG_TYPE)


@router.post("/properties/{property_id}/files")
async def add_file(request: Request, db: DbDep, actor: SessionActor, property_id: str) -> Response:
    """Add a photo or set the brochure; the listing again, with the reason if refused."""
    async with request.form() as posted:  # closes the upload's temporary file
        csrf = posted.get("csrf")
        check_csrf(request, csrf if isinstance(csrf, str) else None)
        upload, role = posted.get("file"), posted.get("role")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        filename = (upload.filename if isinstance(upload, UploadFile) else None) or "file"
    if not data or role not in tuple(PropertyFileRole):
        words = i18n.translator(request)
        return await property_page(
            request, db, actor, property_id, files_error=words.gettext(_NO_FILE), status=422
        )
    try:
        await property_files.add_file(
            db,
            media_store.store_for(get_settings(request)),
            actor=actor,
            property_id=property_id,
            role=PropertyFileRole(str(role)),
            filename=filename,
            data=data,
        )
    except InvalidInput as exc:
        return await property_page(
            request, db, actor, property_id, files_error=_reason(request, exc), status=422
        )
    return RedirectResponse(f"/properties/{property_id}#files", status_code=303)


@router.post("/properties/{property_id}/files/{file_id}/remove")
async def remove_file(
    request: Request, db: DbDep, actor: SessionActor, property_id: str, file_id: str
) -> Response:
    """Remove a photo or the brochure (admins)."""
    posted = await request.form()
    csrf = posted.get("csrf")
    check_csrf(request, csrf if isinstance(csrf, str) else None)
    await property_files.remove_file(
        db,
        media_store.store_for(get_settings(request)),
        actor=actor,
        property_id=property_id,
        file_id=file_id,
    )
    return RedirectResponse(f"/properties/{property_id}#files", status_code=303)


@router.get("/properties/{property_id}/files/{file_id}")
async def download_file(
    request: Request, db: DbDep, _actor: SessionActor, property_id: str, file_id: str
) -> StreamingResponse:
    """The file itself, as an attachment."""
    store = media_store.store_for(get_settings(request))
    download = await property_files.open_file(db, store, property_id=property_id, file_id=file_id)
    return file_response(download)


@router.get("/properties/{property_id}/files/{file_id}/thumbnail")
async def thumbnail(
    request: Request, db: DbDep, _actor: SessionActor, property_id: str, file_id: str
) -> StreamingResponse:
    """A photo's thumbnail, made on the server."""
    store = media_store.store_for(get_settings(request))
    download = await property_files.open_file(
        db, store, property_id=property_id, file_id=file_id, thumbnail=True
    )
    return file_response(download, inline=True)
