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
from ovenai.import_problems import STAGE_WORDS, Kind, Problem
from ovenai.models import Language, Stage
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

# Each problem of a row, by kind (ovenai.import_problems): the same values as the English.
_PROBLEMS: dict[Kind, str] = {
    Kind.FIELD_COUNT: N_("the row has %(fields)s fields but the header has %(header)s"),
    Kind.REQUIRED: N_("a value is required"),
    Kind.NOT_AN_AMOUNT: N_("%(shown)s is not an amount (write 2800000, 2,800,000, 2.8M or 950K)"),
    Kind.THOUSANDS: N_("%(shown)s: the thousands are not grouped by 3"),
    Kind.NOT_ROOMS: N_("%(shown)s is not a number of rooms (write 3.5 or 4-5)"),
    Kind.NOT_WHOLE: N_("%(shown)s is not a whole number"),
    Kind.NOT_YES_NO: N_("%(shown)s is neither yes nor no"),
    Kind.UNKNOWN_STAGE: N_("unknown stage %(shown)s (write one of: %(stages)s)"),
    Kind.UNKNOWN_LANGUAGE: N_("unknown language %(shown)s (write Hebrew or English)"),
    Kind.NOT_A_PHONE: N_("not a valid phone number"),
    Kind.NOT_AN_EMAIL: N_("not a valid e-mail address"),
    Kind.INVALID: N_("the value is not valid: %(message)s"),
    Kind.PHONE_TAKEN: N_("the phone already belongs to lead %(lead)s"),
    Kind.NOT_YOURS: N_("this phone belongs to another agent's lead; ask an admin"),
    Kind.ERASED: N_("the lead with this phone (%(lead)s) was erased; the row was not imported"),
    Kind.REFUSED: N_("refused: %(message)s"),
    Kind.UNKNOWN_SOURCE: N_("unknown source %(shown)s, kept as “import”"),
    Kind.NOT_MOBILE: N_("this is %(number)s: WhatsApp may not reach it"),
}
_REQUIRED = {"phone": N_("a phone number is required"), "name": N_("a name is required")}
_NOT_MOBILE = {
    "a landline": N_("a landline"),
    "a VoIP number": N_("a VoIP number"),
    "a toll-free number": N_("a toll-free number"),
    "a premium-rate number": N_("a premium-rate number"),
    "a shared-cost number": N_("a shared-cost number"),
    "a company's short number": N_("a company's short number"),
    "a pager number": N_("a pager number"),
}
_FIELDS = {
    "name": N_("Name"),
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "phone": N_("Phone"),
    "email": N_("E-mail"),
    "language": N_("Language"),
    "source": N_("Source"),
    "stage": N_("Stage"),
    "want_city": N_("City"),
    "want_area": N_("Area"),
    "want_rooms_min": N_("Rooms"),
    "want_rooms_max": N_("Rooms up to"),
    "want_size_min": N_("Size"),
    "want_budget_min": N_("Budget from"),
    "want_budget_max": N_("Budget"),
    "notes": N_("Notes"),
    "opted_in": N_("Marketing consent"),
    "marketing_basis": N_("Marketing basis"),
    "consent_words": N_("Consent words"),
}
_OUTCOMES = {
    lead_import.Outcome.NEW: N_("new"),
    lead_import.Outcome.UPDATED: N_("updated"),
    lead_import.Outcome.UNCHANGED: N_("unchanged"),
    lead_import.Outcome.REJECTED: N_("rejected"),
}


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
        **_outcome(i18n.translator(request), report),
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
        request,
        "lead_import.html",
        actor=actor,
        step="done",
        upload=upload,
        **_outcome(i18n.translator(request), report),
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


def said(words: i18n.Translator, problem: Problem) -> str:
    """A row's problem in the page's language: where (the file's column title, else the
    field's name), what, and what a personal value looked like."""
    values: dict[str, object] = dict(problem.named)
    if problem.kind is Kind.NOT_MOBILE:
        kind = str(values["number"])
        values["number"] = words.gettext(_NOT_MOBILE[kind]) if kind in _NOT_MOBILE else kind
    if problem.kind is Kind.UNKNOWN_STAGE:
        english = ", ".join(stage.value.replace("_", " ") for stage in Stage)
        values["stages"] = STAGE_WORDS if words.language is Language.HE else english
    required = _REQUIRED.get(problem.field or "") if problem.kind is Kind.REQUIRED else None
    text = words.gettext(required or _PROBLEMS[problem.kind], **values)
    if problem.looked is not None:
        looked = problem.looked
        text += (
            " ("
            + (
                words.gettext(N_("a value of %(count)s digits"), count=looked.digits)
                if looked.digits
                else words.gettext(N_("a text of %(count)s characters"), count=looked.characters)
            )
            + ")"
        )
    if problem.field is None or problem.is_warning:
        return text
    field = _FIELDS.get(problem.field)
    where = problem.column or (words.gettext(field) if field else problem.field)
    return words.gettext(N_("column “%(column)s”: %(problem)s"), column=where, problem=text)


def _line(words: i18n.Translator, result: lead_import.RowResult) -> str:
    """A row's line of the problems' list: its number, fate, problem and warnings."""
    outcome = words.gettext(_OUTCOMES[result.outcome])
    parts = [words.gettext(N_("row %(row)s: %(outcome)s"), row=result.row, outcome=outcome)]
    parts += [said(words, problem) for problem in (result.problem, *result.warnings) if problem]
    return "; ".join(parts)


def _outcome(words: i18n.Translator, report: lead_import.ImportReport) -> dict[str, Any]:
    problems = [
        _line(words, result)
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
