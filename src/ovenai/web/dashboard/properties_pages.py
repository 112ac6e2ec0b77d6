"""The listings pages: /properties (the list, filtered by city and status), a new listing
and the edit form (admins, as :mod:`ovenai.properties` allows), and /properties/{id} with its
photos and brochure (:mod:`ovenai.web.dashboard.property_files_pages`), the
leads whose criteria it meets and why (:mod:`ovenai.matching`), with how many other leads
are left out and for which criterion. A refused form shows the page again with the reason
beside each field and what was typed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from ovenai import matching, properties, property_files
from ovenai.auth import Actor
from ovenai.errors import NotFound
from ovenai.matching import Check, Criterion
from ovenai.models import Property, PropertyStatus
from ovenai.properties import PropertyCreate, PropertyFilter, PropertyUpdate
from ovenai.property_files import FileRecord
from ovenai.web import i18n
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import SessionActor, check_csrf
from ovenai.web.deps import DbDep
from ovenai.web.i18n import N_, Translator

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
FIELDS = ("title", "city", "area", "address", "rooms", "size_m2", "price", "status", "description")
_OPTIONAL = frozenset({"area", "address", "rooms", "size_m2", "price", "description"})
STATUSES = {
    PropertyStatus.AVAILABLE: N_("Available"),
    PropertyStatus.RESERVED: N_("Reserved"),
    PropertyStatus.SOLD: N_("Sold"),
    PropertyStatus.RENTED: N_("Rented"),
    PropertyStatus.WITHDRAWN: N_("Withdrawn"),
}
_FIELD_ERRORS = {
    "city": N_("Write the city (up to 100 characters)."),
    "rooms": N_("Rooms: a number from 0 to 50, in halves (3.5)."),
    "size_m2": N_("Size: whole square metres, from 1 to 100,000."),
    "price": N_("Price: whole shekels, without commas."),
    "status": N_("Choose a status from the list."),
}
_TOO_LONG = N_("This text is too long.")
# Why a lead matches or is left out, one sentence per criterion.
CRITERIA = {
    Criterion.CITY: N_("City: wants %(wanted)s, here %(offered)s"),
    Criterion.AREA: N_("Area: wants %(wanted)s, here %(offered)s"),
    Criterion.ROOMS: N_("Rooms: wants %(wanted)s, here %(offered)s"),
    Criterion.SIZE: N_("Size: wants %(wanted)s sq m, here %(offered)s sq m"),
    Criterion.BUDGET: N_("Budget: %(wanted)s, price %(offered)s"),
    Criterion.STAGE: N_("Stage: %(offered)s, a closed stage"),
    Criterion.CRITERIA: N_("No criteria the listing can be compared with"),
}
EXCLUDED = {
    Criterion.CITY: N_("Another city"),
    Criterion.AREA: N_("Another area"),
    Criterion.ROOMS: N_("Rooms"),
    Criterion.SIZE: N_("Too small"),
    Criterion.BUDGET: N_("Beyond the budget"),
    Criterion.STAGE: N_("Closed stage"),
    Criterion.CRITERIA: N_("No criteria"),
}
_TOLERANCE = N_("over the budget, within %(percent)d%%")


def _why(words: Translator, check: Check, tolerance: int) -> str:
    offered = check.offered or ""
    if check.criterion is Criterion.STAGE:
        offered = words.label("stage", offered)
    text = words.gettext(CRITERIA[check.criterion], wanted=check.wanted or "", offered=offered)
    if check.within_tolerance:
        text += " (" + words.gettext(_TOLERANCE, percent=tolerance) + ")"
    return text


def _values(form: dict[str, str]) -> dict[str, Any]:
    """The form's fields for the service: an empty optional field clears it."""
    values: dict[str, Any] = {}
    for name in FIELDS:
        value = form.get(name, "").strip()
        if name in _OPTIONAL and not value:
            values[name] = None
        elif name == "price" or name == "size_m2":
            values[name] = value.replace(",", "") if value else None
        else:
            values[name] = value
    return values


def _errors(words: Translator, exc: ValidationError) -> dict[str, str]:
    errors = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "city"
        errors[name] = words.gettext(_FIELD_ERRORS.get(name, _TOO_LONG))
    return errors


def _statuses(words: Translator) -> dict[str, str]:
    return {key.value: words.gettext(text) for key, text in STATUSES.items()}


def _admin(actor: Actor) -> None:
    if not actor.is_admin:  # the forms' existence is not revealed to agents
        raise NotFound("no such page")


async def _read(request: Request) -> dict[str, str]:
    """The posted form as text fields, after its CSRF token is checked."""
    posted = await request.form()
    fields = {name: value for name, value in posted.items() if isinstance(value, str)}
    check_csrf(request, fields.get("csrf"))
    return {name: fields.get(name, "")[:5000] for name in FIELDS}


@router.get("/properties")
async def properties_page(
    request: Request,
    db: DbDep,
    actor: SessionActor,
) -> HTMLResponse:
    """Listings, newest first, by city and status."""
    given = {
        k: v for k, v in request.query_params.items() if k in ("city", "status", "cursor") and v
    }
    try:
        filters = PropertyFilter.model_validate({**given, "limit": PAGE_SIZE})
    except ValidationError:
        filters = PropertyFilter(limit=PAGE_SIZE)
    found = await properties.list_properties(db, filters=filters)
    words = i18n.translator(request)
    return page(
        request,
        "properties.html",
        actor=actor,
        listings=found.items,
        next_cursor=found.next_cursor,
        filters=filters,
        statuses=_statuses(words),
    )


def _edit_page(
    request: Request,
    actor: Actor,
    *,
    prop: Property | None,
    form: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
    found: matching.Summary | None = None,
    files: list[FileRecord] | None = None,
    files_error: str | None = None,
) -> HTMLResponse:
    words = i18n.translator(request)
    context: dict[str, Any] = {"matches": [], "excluded": [], "tolerance": 0}
    if found is not None:
        tolerance = int(found.tolerance * 100)
        excluded: Counter[Criterion] = Counter(found.failed)  # ties as the leads list them
        context = {
            "matches": [
                (match.lead, [_why(words, check, tolerance) for check in match.reasons])
                for match in found.matches
            ],
            "excluded": [(words.gettext(EXCLUDED[c]), n) for c, n in excluded.most_common()],
            "excluded_leads": found.excluded_leads,
            "tolerance": tolerance,
        }
    return page(
        request,
        "property.html",
        status=status,
        actor=actor,
        prop=prop,
        form=form,
        errors=errors,
        statuses=_statuses(words),
        files=files or [],
        files_error=files_error,
        max_photos=property_files.MAX_PHOTOS,
        **context,
    )


def _shown(prop: Property) -> dict[str, str]:
    """A listing's fields as its edit form shows them."""
    return {
        name: "" if getattr(prop, name) is None else str(getattr(prop, name)) for name in FIELDS
    }


@router.get("/properties/new")
async def new_property(request: Request, actor: SessionActor) -> HTMLResponse:
    """The form of a new listing (admins)."""
    _admin(actor)
    form = {name: "" for name in FIELDS} | {"status": PropertyStatus.AVAILABLE.value}
    return _edit_page(request, actor, prop=None, form=form, errors={})


@router.post("/properties")
async def create_property(request: Request, db: DbDep, actor: SessionActor) -> Response:
    """Add a listing; its page afterwards, or the form again with the errors."""
    _admin(actor)
    form = await _read(request)
    try:
        data = PropertyCreate.model_validate(_values(form))
    except ValidationError as exc:
        errors = _errors(i18n.translator(request), exc)
        return _edit_page(request, actor, prop=None, form=form, errors=errors, status=422)
    prop = await properties.create_property(db, actor=actor, data=data)
    return RedirectResponse(f"/properties/{prop.id}", status_code=303)


async def _matches(db: DbDep, actor: Actor, property_id: str) -> matching.Summary:
    return await matching.summary_for(db, actor=actor, property_id=property_id)


async def property_page(
    request: Request,
    db: DbDep,
    actor: Actor,
    property_id: str,
    *,
    files_error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """A listing's page: its fields, photos and brochure, the leads it suits, the forms."""
    prop = await properties.get_property(db, property_id=property_id)
    found = await _matches(db, actor, property_id)
    files = await property_files.list_files(db, property_id=property_id)
    return _edit_page(
        request,
        actor,
        prop=prop,
        form=_shown(prop),
        errors={},
        found=found,
        files=files,
        files_error=files_error,
        status=status,
    )


@router.get("/properties/{property_id}")
async def show_property(
    request: Request, db: DbDep, actor: SessionActor, property_id: str
) -> HTMLResponse:
    """A listing, its photos and brochure, the leads it suits and why, and (admins) its
    edit form and file uploads."""
    return await property_page(request, db, actor, property_id)


@router.post("/properties/{property_id}")
async def edit_property(
    request: Request, db: DbDep, actor: SessionActor, property_id: str
) -> Response:
    """Change a listing (admins); its page afterwards, or the form again with the errors."""
    _admin(actor)
    prop = await properties.get_property(db, property_id=property_id)
    form = await _read(request)
    try:
        changes = PropertyUpdate.model_validate(_values(form))
    except ValidationError as exc:
        errors = _errors(i18n.translator(request), exc)
        found = await _matches(db, actor, property_id)
        files = await property_files.list_files(db, property_id=property_id)
        return _edit_page(
            request,
            actor,
            prop=prop,
            form=form,
            errors=errors,
            status=422,
            found=found,
            files=files,
        )
    await properties.update_property(db, actor=actor, property_id=property_id, changes=changes)
    return RedirectResponse(f"/properties/{property_id}", status_code=303)
