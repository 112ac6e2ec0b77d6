"""The meetings page (/meetings): viewings by day or by week in the agency's time zone
(:mod:`ovenai.agenda`), a form to book one (lead, property, date and time) and, on each
viewing, "confirm" and "cancel" (:func:`ovenai.meetings.update_meeting`, so confirming
runs the same booking hooks as the API). Agents see the viewings of their own leads and
of unassigned ones, as everywhere. A refused booking shows the page again with the reason
beside the field and what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from ovenai import agenda, meetings, properties
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.errors import InvalidInput
from ovenai.meetings import MeetingCreate, MeetingUpdate
from ovenai.models import MeetingStatus
from ovenai.properties import PropertyFilter
from ovenai.web import i18n
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import SessionActor, check_csrf
from ovenai.web.deps import DbDep, get_settings
from ovenai.web.i18n import N_

router = APIRouter(include_in_schema=False)
View = Literal["day", "week"]
DATE = "%d/%m/%Y"  # as Israelis write a date
WEEKDAYS = (  # date.weekday(): Monday first
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
STATUSES = {
    MeetingStatus.PROPOSED: N_("Proposed"),
    MeetingStatus.CONFIRMED: N_("Confirmed"),
    MeetingStatus.DONE: N_("Took place"),
    MeetingStatus.CANCELLED: N_("Cancelled"),
    MeetingStatus.NO_SHOW: N_("Did not come"),
}
_CHOOSE_LEAD = N_("Choose a lead from the list.")
_CHOOSE_PROPERTY = N_("Choose a property from the list.")
_BAD_DATE = N_("Choose a date.")
_BAD_TIME = N_("Choose a time.")
_BAD_DURATION = N_("A viewing lasts between 5 and 600 minutes.")
_BAD_NOTES = N_("The notes are too long.")
_IN_THE_PAST = N_("This time has passed. To record a viewing that took place, tick the box below.")
_FIELD_ERRORS = {
    "lead_id": _CHOOSE_LEAD,
    "property_id": _CHOOSE_PROPERTY,
    "duration_minutes": _BAD_DURATION,
    "notes": _BAD_NOTES,
}


@dataclass
class BookingForm:
    """What the user typed into the booking form, and the errors beside its fields."""

    lead_id: str = ""
    property_id: str = ""
    day: str = ""
    at: str = ""
    duration: str = "30"
    notes: str = ""
    recorded_after: bool = False
    errors: dict[str, str] = field(default_factory=dict)


def _today(request: Request) -> date:
    return utcnow().astimezone(get_settings(request).zone).date()


def _parse_day(value: str | None, fallback: date) -> date:
    """A date of a link (2027-01-12) or as typed (12/01/2027, 12.1.2027); else ``fallback``."""
    for layout in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime((value or "").strip(), layout).date()
        except ValueError:
            continue
    return fallback


async def _calendar(
    request: Request,
    db: DbDep,
    actor: Actor,
    *,
    view: View,
    day: date,
    form: BookingForm | None = None,
    status: int = 200,
) -> HTMLResponse:
    words = i18n.translator(request)
    first, length = (day, 1) if view == "day" else (agenda.week_start(day), 7)
    async with db.one_reading():  # the days, listings and leads on one connection
        days = await agenda.agenda(
            db, actor=actor, first=first, days=length, zone=get_settings(request).zone
        )
        listings = await properties.list_properties(db, filters=PropertyFilter(limit=200))
        leads = await agenda.lead_choices(db, actor=actor)
    step = timedelta(days=length)
    today = _today(request)
    form = form or BookingForm(day=max(day, today).strftime(DATE))
    return page(
        request,
        "meetings.html",
        status=status,
        actor=actor,
        view=view,
        day=day,
        days=days,
        today=today,
        previous=(first - step).isoformat(),
        following=(first + step).isoformat(),
        heading=_heading(words, first, length),
        weekday=lambda d: words.gettext(WEEKDAYS[d.weekday()]),
        date_text=lambda d: d.strftime(DATE),
        statuses={key.value: words.gettext(text) for key, text in STATUSES.items()},
        leads=leads,
        listings=listings.items,
        form=form,
        back=f"/meetings?view={view}&date={day.isoformat()}",
    )


def _heading(words: i18n.Translator, first: date, length: int) -> str:
    if length == 1:
        name = words.gettext(WEEKDAYS[first.weekday()])
        return f"{name} {first.strftime(DATE)}"
    last = first + timedelta(days=length - 1)
    return words.gettext(
        "Week of %(first)s – %(last)s", first=first.strftime(DATE), last=last.strftime(DATE)
    )


@router.get("/meetings")
async def meetings_page(
    request: Request,
    db: DbDep,
    actor: SessionActor,
    view: Annotated[View, Query()] = "week",
    day: Annotated[str | None, Query(alias="date", max_length=10)] = None,
    lead: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """The viewings of a day or of a week (Sunday to Saturday), and the booking form
    (``?lead=`` chooses its lead, for a link from a lead's page)."""
    chosen = _parse_day(day, _today(request))
    form = BookingForm(lead_id=lead, day=max(chosen, _today(request)).strftime(DATE))
    return await _calendar(request, db, actor, view=view, day=chosen, form=form)


def _starts_at(form: BookingForm, words: i18n.Translator) -> datetime | None:
    """The date and time typed, in the agency's zone (the service reads a time without an
    offset so); None with the errors noted beside their fields."""
    day = _parse_day(form.day, date.min)
    if day == date.min:
        form.errors["day"] = words.gettext(_BAD_DATE)
    try:
        at = datetime.strptime(form.at.strip(), "%H:%M").time()
    except ValueError:
        form.errors["at"] = words.gettext(_BAD_TIME)
        return None
    return datetime.combine(day, at) if day != date.min else None


def _create(form: BookingForm, starts_at: datetime, words: i18n.Translator) -> Any:
    values: dict[str, Any] = {"lead_id": form.lead_id, "starts_at": starts_at}
    if form.property_id:
        values["property_id"] = form.property_id
    if form.notes.strip():
        values["notes"] = form.notes
    values["duration_minutes"] = form.duration or "30"
    values["recorded_after"] = form.recorded_after
    try:
        return MeetingCreate.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "lead_id"
            form.errors[name] = words.gettext(_FIELD_ERRORS.get(name, _CHOOSE_LEAD))
        return None


@router.post("/meetings")
async def book_meeting(
    request: Request,
    db: DbDep,
    actor: SessionActor,
    lead_id: Annotated[str, Form(max_length=40)] = "",
    property_id: Annotated[str, Form(max_length=40)] = "",
    day: Annotated[str, Form(max_length=10)] = "",
    at: Annotated[str, Form(max_length=5)] = "",
    duration: Annotated[str, Form(max_length=4)] = "30",
    notes: Annotated[str, Form(max_length=6000)] = "",
    recorded_after: Annotated[str, Form(max_length=3)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Book a viewing; the day's calendar afterwards, or the form again with its errors. A
    time in the past is refused unless "recorded after the fact" is ticked."""
    check_csrf(request, csrf)
    words = i18n.translator(request)
    form = BookingForm(lead_id, property_id, day, at, duration, notes, recorded_after == "1")
    starts_at = _starts_at(form, words)
    data = _create(form, starts_at, words) if starts_at is not None else None
    if data is not None and not form.errors:
        try:
            record = await meetings.create_meeting(
                db, actor=actor, data=data, zone=get_settings(request).zone
            )
        except InvalidInput as exc:
            if exc.field == "starts_at":
                form.errors["at"] = words.gettext(_IN_THE_PAST)
            else:
                name = exc.field if exc.field in _FIELD_ERRORS else "lead_id"
                form.errors[name] = words.gettext(_FIELD_ERRORS[name])
        else:
            shown = record.starts_at.astimezone(get_settings(request).zone).date()
            target = f"/meetings?view=day&date={shown.isoformat()}#meeting-{record.id}"
            return RedirectResponse(target, status_code=303)
    shown_day = _parse_day(form.day, _today(request))
    return await _calendar(request, db, actor, view="day", day=shown_day, form=form, status=422)


_CHANGES = {"confirm": MeetingStatus.CONFIRMED, "cancel": MeetingStatus.CANCELLED}


@router.post("/meetings/{meeting_id}/{action}")
async def change_meeting(
    request: Request,
    db: DbDep,
    actor: SessionActor,
    meeting_id: str,
    action: Literal["confirm", "cancel"],
    back: Annotated[str, Form(max_length=200)] = "/meetings",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Confirm or cancel a viewing, then back to the calendar it was shown on."""
    check_csrf(request, csrf)
    await meetings.update_meeting(
        db,
        actor=actor,
        meeting_id=meeting_id,
        changes=MeetingUpdate(status=_CHANGES[action]),
        zone=get_settings(request).zone,
    )
    if not back.startswith("/meetings"):  # never elsewhere
        back = "/meetings"
    return RedirectResponse(f"{back}#meeting-{meeting_id}", status_code=303)
