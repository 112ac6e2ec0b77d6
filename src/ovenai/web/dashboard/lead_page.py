"""Dashboard: the lead page's own routes beside the composer's — the conversation fragment
the page polls, and the in-place edits of the lead's details and criteria.

The fragment (``GET /leads/{id}/conversation?version=&wait=``) answers 204 while the
conversation is as the page last drew it (:func:`ovenai.bubbles.version`: nothing decrypted,
nothing audited), else the bubbles and their new version in ``X-Conversation-Version``. With
``wait`` it holds the question until the conversation changes or the wait is over: the
writers announce the leads they touched (:mod:`ovenai.live`), so a reply or a tick is on
the page a fraction of a second after its webhook is applied; the page's script
(static/lead.js) asks again at once and puts the bubbles in place, without a reload.

The details form (name, language, notes) and the criteria form (city, area, rooms, size,
budget, listing) each post every field; what differs from the lead goes through
:func:`ovenai.leads.update_lead` (sealed fields stay sealed, the change is audited with the
fields it touched). A value that is not valid shows the page again (422) with each error
beside its field and what was typed kept.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from ovenai import bubbles, inbox, leads, live, media, media_store
from ovenai.auth import Actor
from ovenai.errors import InvalidInput
from ovenai.lead_fields import LeadUpdate
from ovenai.quiet_hours import QuietHours
from ovenai.web import i18n
from ovenai.web.dashboard.composer import lead_page
from ovenai.web.dashboard.lead_view import conversation_context
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import SessionActor, check_csrf
from ovenai.web.deps import DbDep, SettingsDep, get_settings
from ovenai.web.downloads import file_response
from ovenai.web.i18n import N_, Translator

router = APIRouter(include_in_schema=False)
bare = APIRouter(include_in_schema=False)
"""What the lead page fetches that has no header (the conversation, a file): mounted without
the header's counts, which a waiting question or a page of thumbnails would read each time."""
VERSION_HEADER = "X-Conversation-Version"
MAX_WAIT_S = 30.0
"""The longest a question may wait for a change (the page asks for
:data:`~ovenai.web.dashboard.lead_view.WAIT_SECONDS`; under nginx's 60 s read timeout)."""
CsrfField = Annotated[str | None, Form()]
Short = Annotated[str, Form(max_length=300)]

# The fields each form posts, in the order of its route's parameters.
DETAILS = ("name", "language", "notes")
CRITERIA = (
    "want_city",
    "want_area",
    "want_rooms_min",
    "want_rooms_max",
    "want_size_min",
    "want_budget_min",
    "want_budget_max",
    "property_id",
)
_MONEY = ("want_budget_min", "want_budget_max", "want_size_min")
# Why a field's value was refused, by field.
_FIELD_ERRORS = {
    "name": N_("Enter a name of up to 200 characters."),
    "language": N_("Choose a language from the list."),
    "notes": N_("Notes may hold up to 5,000 characters."),
    "want_city": N_("Enter a place of up to 100 characters."),
    "want_area": N_("Enter a place of up to 100 characters."),
    "want_rooms_min": N_("Enter a number of rooms between 0 and 50, such as 3.5."),
    "want_rooms_max": N_("Enter a number of rooms between 0 and 50, such as 3.5."),
    "want_size_min": N_("Enter the size in square metres as a whole number."),
    "want_budget_min": N_("Enter the amount in shekels as a whole number."),
    "want_budget_max": N_("Enter the amount in shekels as a whole number."),
    "property_id": N_("Choose a listing from the list."),
}
_BELOW = {
    "want_rooms_max": N_("The most rooms may not be fewer than the fewest."),
    "want_budget_max": N_("The highest budget may not be below the lowest."),
}
_CONTROLS = N_("Remove the invisible direction characters from the text.")


@bare.get("/leads/{lead_id}/conversation")
async def conversation_fragment(
    request: Request,
    lead_id: str,
    db: DbDep,
    actor: SessionActor,
    version: Annotated[str, Query(max_length=64)] = "",
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S)] = 0,
) -> Response:
    """The bubbles, or 204 while the conversation is still at ``version``; ``wait``: hold
    the answer up to that many seconds until it changes (:mod:`ovenai.live`)."""
    changes: live.Changes = request.app.state.live
    deadline = time.monotonic() + wait
    with changes.listen(lead_id) as told:
        current = await bubbles.version(db, actor=actor, lead_id=lead_id)
        while version and version == current and (left := deadline - time.monotonic()) > 0:
            if await told.next(left):
                current = await bubbles.version(db, actor=actor, lead_id=lead_id)
    if version and version == current:
        return Response(status_code=204, headers={VERSION_HEADER: current})
    quiet = QuietHours.from_settings(get_settings(request))
    async with db.one_transaction():  # one connection: read, audited, marked seen
        drawn = await bubbles.conversation(db, actor=actor, lead_id=lead_id, quiet=quiet)
        await inbox.mark_seen(db, actor=actor, lead_id=lead_id)  # the page is open: seen
    answer = page(request, "lead_bubbles.html", **conversation_context(request, drawn))
    answer.headers[VERSION_HEADER] = drawn.version
    answer.headers["Cache-Control"] = "no-store"
    return answer


@bare.get("/leads/{lead_id}/media/{media_id}/thumbnail")
async def media_thumbnail(
    lead_id: str, media_id: str, db: DbDep, settings: SettingsDep, actor: SessionActor
) -> Response:
    """A sent photo's thumbnail, made on the server (the original never serves as one)."""
    store = media_store.store_for(settings)
    shown = await media.open_content(
        db, store, actor=actor, lead_id=lead_id, media_id=media_id, thumbnail=True
    )
    return file_response(shown, inline=True)


@bare.get("/leads/{lead_id}/media/{media_id}")
async def media_download(
    lead_id: str, media_id: str, db: DbDep, settings: SettingsDep, actor: SessionActor
) -> Response:
    """A file the lead sent, as an attachment; every download is in the audit log."""
    store = media_store.store_for(settings)
    sent = await media.open_content(db, store, actor=actor, lead_id=lead_id, media_id=media_id)
    return file_response(sent)


def _cleaned(name: str, raw: str) -> str | None:
    """A form value as the lead's field takes it: blank is "none" (a name is never blank)."""
    value = raw.strip()
    if name in _MONEY:
        value = "".join(ch for ch in value if ch not in ", ₪")
    if name == "want_rooms_min" or name == "want_rooms_max":
        value = value.replace(",", ".")
    if name == "notes":
        return raw.replace("\r\n", "\n") if raw.strip() else None
    return value or None


def _errors(words: Translator, exc: ValidationError) -> dict[str, str]:
    """Each refused field's error in the page's language (the first per field)."""
    found: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        if name not in _FIELD_ERRORS or name in found:
            continue
        message = str(error.get("msg", ""))
        if "control character" in message:
            msgid = _CONTROLS
        elif "must not be below" in message and name in _BELOW:
            msgid = _BELOW[name]
        else:
            msgid = _FIELD_ERRORS[name]
        found[name] = words.gettext(msgid)
    return found


async def _edit(
    request: Request,
    db: DbDep,
    actor: Actor,
    lead_id: str,
    typed: dict[str, str],
) -> Response:
    """Validate every field typed, then write those that changed; 422 with the errors."""
    values = {name: _cleaned(name, raw) for name, raw in typed.items()}
    words = i18n.translator(request)
    try:
        parsed = LeadUpdate.model_validate(values)
    except ValidationError as exc:
        return await lead_page(
            request,
            db,
            actor,
            lead_id,
            edit_errors=_errors(words, exc),
            edit_values=typed,
            status=422,
        )
    current = await leads.get_lead(db, actor=actor, lead_id=lead_id)
    given = parsed.model_dump()
    changed = {name: given[name] for name in typed if given[name] != getattr(current, name)}
    if changed:
        try:
            update = LeadUpdate.model_validate(changed)
            await leads.update_lead(db, actor=actor, lead_id=lead_id, changes=update)
        except InvalidInput as exc:  # a listing deleted since the page was drawn
            field = exc.field if exc.field in _FIELD_ERRORS else "property_id"
            errors = {str(field): words.gettext(_FIELD_ERRORS[str(field)])}
            return await lead_page(
                request,
                db,
                actor,
                lead_id,
                edit_errors=errors,
                edit_values=typed,
                status=422,
            )
    return RedirectResponse(f"/leads/{lead_id}#lead-fields", status_code=303)


@router.post("/leads/{lead_id}/details")
async def change_details(
    request: Request,
    lead_id: str,
    db: DbDep,
    actor: SessionActor,
    name: Annotated[str, Form(max_length=400)] = "",
    language: Annotated[str, Form(max_length=8)] = "",
    notes: Annotated[str, Form(max_length=10_000)] = "",
    csrf: CsrfField = None,
) -> Response:
    """The lead's name, language and notes."""
    check_csrf(request, csrf)
    typed = dict(zip(DETAILS, (name, language, notes), strict=True))
    return await _edit(request, db, actor, lead_id, typed)


@router.post("/leads/{lead_id}/criteria")
async def change_criteria(
    request: Request,
    lead_id: str,
    db: DbDep,
    actor: SessionActor,
    want_city: Short = "",
    want_area: Short = "",
    want_rooms_min: Short = "",
    want_rooms_max: Short = "",
    want_size_min: Short = "",
    want_budget_min: Short = "",
    want_budget_max: Short = "",
    property_id: Short = "",
    csrf: CsrfField = None,
) -> Response:
    """What the lead looks for: city, area, rooms, size, budget, and the listing."""
    check_csrf(request, csrf)
    values = (
        want_city,
        want_area,
        want_rooms_min,
        want_rooms_max,
        want_size_min,
        want_budget_min,
        want_budget_max,
        property_id,
    )
    typed = dict(zip(CRITERIA, values, strict=True))
    return await _edit(request, db, actor, lead_id, typed)
