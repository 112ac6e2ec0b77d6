"""The lead import page (/leads/import): upload a spreadsheet, see a preview, confirm.

1. ``GET /leads/import``: the form (a CSV or XLSX file, and whether known leads' values are
   replaced: the ``--overwrite`` of ``ovenai leads import``).
2. ``POST /leads/import``: the file is read and imported as a dry run
   (:func:`ovenai.lead_import.import_sheet`); the page shows how it was read, its first rows,
   the counts and every problem. The file is kept sealed on the server until confirmed
   (:mod:`ovenai.import_uploads`); the browser gets only its id.
3. ``POST /leads/import/{id}``: the import runs for real and the page shows what it did;
   ``POST /leads/import/{id}/cancel`` drops the file.

Admins and agents may import, as both may add leads: an agent's new leads are assigned to
them and a row of a lead they may not see is refused (:mod:`ovenai.lead_import`). The file
may be as large as a request body may be (``OVENAI_MAX_BODY_BYTES``); bigger files go
through the command line.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from ovenai import import_uploads, lead_import
from ovenai.auth import Actor
from ovenai.errors import InvalidInput
from ovenai.web import i18n
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import SessionActor, check_csrf
from ovenai.web.deps import DbDep, SettingsDep
from ovenai.web.i18n import N_

router = APIRouter(include_in_schema=False)
PREVIEW_ROWS = 10
SHOWN_PROBLEMS = 200  # lines of problems a page lists (the counts cover them all)
_NO_FILE = N_("Choose a CSV or Excel (.xlsx) file.")
_TOO_BIG = N_("The file is larger than %(limit)s KB; import it with the command line.")


def _form_page(
    request: Request, actor: Actor, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    return page(request, "lead_import.html", status, actor=actor, step="form", error=error)


@router.get("/leads/import")
async def import_form(request: Request, actor: SessionActor) -> HTMLResponse:
    """The upload form."""
    return _form_page(request, actor)


@router.post("/leads/import")
async def import_preview(
    request: Request, db: DbDep, settings: SettingsDep, actor: SessionActor
) -> Response:
    """Read the upload, keep it sealed, and show what its import would do."""
    async with request.form() as posted:  # closes the upload's temporary file
        check_csrf(request, _text(posted.get("csrf")))
        upload = posted.get("file")
        filename = upload.filename if isinstance(upload, UploadFile) else None
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        overwrite = _text(posted.get("overwrite")) == "on"
    if not filename or not data:
        return _form_page(request, actor, error=_say(request, _NO_FILE), status=422)
    if len(data) > settings.max_body_bytes:
        limit = settings.max_body_bytes // 1024
        return _form_page(request, actor, error=_say(request, _TOO_BIG, limit=limit), status=413)
    await import_uploads.sweep(db, settings.data_dir)
    try:
        first = lead_import.open_sheet(data, filename)
        header, rows = first.header, list(islice(first.rows, PREVIEW_ROWS))
        report = await lead_import.import_sheet(
            db,
            lead_import.open_sheet(data, filename),
            actor=actor,
            dry_run=True,
            overwrite=overwrite,
        )
    except InvalidInput as exc:
        return _form_page(request, actor, error=exc.message, status=422)
    kept = await import_uploads.keep(
        db, settings.data_dir, actor=actor, data=data, filename=filename, overwrite=overwrite
    )
    return page(
        request,
        "lead_import.html",
        actor=actor,
        step="preview",
        upload=kept,
        header=header,
        rows=[(number, cells) for number, cells in rows],
        **_outcome(report),
    )


@router.post("/leads/import/{upload_id}")
async def import_confirm(
    request: Request, upload_id: str, db: DbDep, settings: SettingsDep, actor: SessionActor
) -> Response:
    """Import a previewed upload for real; what it did."""
    posted = await request.form()
    check_csrf(request, _text(posted.get("csrf")))
    upload, data = await import_uploads.take(
        db, settings.data_dir, actor=actor, upload_id=upload_id
    )
    try:
        report = await lead_import.import_sheet(
            db,
            lead_import.open_sheet(data, upload.filename),
            actor=actor,
            overwrite=upload.overwrite,
        )
    finally:
        await import_uploads.discard(db, settings.data_dir, upload.id)
    return page(
        request, "lead_import.html", actor=actor, step="done", upload=upload, **_outcome(report)
    )


@router.post("/leads/import/{upload_id}/cancel")
async def import_cancel(
    request: Request, upload_id: str, db: DbDep, settings: SettingsDep, actor: SessionActor
) -> Response:
    """Drop a previewed upload; back to the form."""
    posted = await request.form()
    check_csrf(request, _text(posted.get("csrf")))
    upload, _ = await import_uploads.take(db, settings.data_dir, actor=actor, upload_id=upload_id)
    await import_uploads.discard(db, settings.data_dir, upload.id)
    return RedirectResponse("/leads/import", status_code=303)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _say(request: Request, msgid: str, **values: object) -> str:
    return i18n.translator(request).gettext(msgid, **values)


def _outcome(report: lead_import.ImportReport) -> dict[str, Any]:
    problems = [
        result
        for result in report.results
        if result.outcome is lead_import.Outcome.REJECTED or result.warnings
    ]
    return {
        "report": report,
        "counts": {
            "new": report.imported,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": len(report.rejected),
        },
        "problems": problems[:SHOWN_PROBLEMS],
        "more_problems": max(len(problems) - SHOWN_PROBLEMS, 0),
    }
