"""The viewings calendar: meetings by day and by week in the agency's time zone, each with
its lead's name and its property, for the meetings page.

:func:`ovenai.meetings.list_meetings` pages by id (newest booked first), as an API list
does; a calendar wants a span of days in time order with who and where, so this module
reads the span at once: one query for the meetings of leads the actor may see, one key
lookup for their leads. Of a lead only what is shown is opened (its name; for the booking
form's choices the first of name, profile name and phone that is there), not every sealed
field. A week starts on Sunday, as the Israeli week does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import select

from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.leads import CLOSED_STAGES, visible_to
from ovenai.meetings import MeetingRecord, open_meeting
from ovenai.models import Lead, Meeting, Property
from ovenai.sealing import LEADS

MAX_DAYS = 31  # the longest span one page asks for
CHOICES = 200  # the most leads the booking form offers


@dataclass(frozen=True)
class AgendaItem:
    """One viewing with its lead's name and its listing (None when it has none)."""

    meeting: MeetingRecord
    lead_name: str | None
    property: Property | None


@dataclass(frozen=True)
class AgendaDay:
    """A day of the calendar (a date of the agency's zone) and its viewings in time order."""

    day: date
    items: list[AgendaItem]


def week_start(day: date) -> date:
    """The Sunday a day's week starts on."""
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _moment(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


async def agenda(
    db: Database, *, actor: Actor, first: date, days: int, zone: tzinfo
) -> list[AgendaDay]:
    """The viewings of leads the actor may see from ``first`` for ``days`` days (1 to
    :data:`MAX_DAYS`), day by day in ``zone``; every day is listed, empty ones too."""
    days = max(1, min(days, MAX_DAYS))
    start, end = _moment(first, zone), _moment(first + timedelta(days=days), zone)
    query = (
        select(Meeting, Lead, Property)
        .join(Lead, Lead.id == Meeting.lead_id)
        .outerjoin(Property, Property.id == Meeting.property_id)
        .where(visible_to(actor), Meeting.starts_at >= start, Meeting.starts_at < end)
        .order_by(Meeting.starts_at, Meeting.id)
    )
    async with db.reading() as session:
        rows = (await session.execute(query)).all()
    leads = {lead.id: lead for _m, lead, _p in rows}
    keys = await db.vault.lead_keys(list(leads))
    names = {lead.id: LEADS.open_from(lead, keys[lead.id], "name") for lead in leads.values()}
    by_day: dict[date, list[AgendaItem]] = {first + timedelta(n): [] for n in range(days)}
    for meeting, lead, prop in rows:
        record = open_meeting(meeting, keys[lead.id])
        day = record.starts_at.astimezone(zone).date()
        by_day[day].append(AgendaItem(record, names[lead.id], prop))
    return [AgendaDay(day, items) for day, items in by_day.items()]


async def lead_choices(db: Database, *, actor: Actor) -> list[tuple[str, str]]:
    """Leads a viewing may be booked for (id, name), by name: the :data:`CHOICES` most
    recent leads the actor may see at an open stage."""
    query = (
        select(Lead)
        .where(visible_to(actor), Lead.stage.not_in(list(CLOSED_STAGES)))
        .order_by(Lead.id.desc())
        .limit(CHOICES)
    )
    async with db.reading() as session:
        found = list(await session.scalars(query))
    keys = await db.vault.lead_keys([lead.id for lead in found])
    named = [(lead.id, _shown_name(lead, keys[lead.id])) for lead in found]
    return sorted(named, key=lambda choice: choice[1].casefold())


def _shown_name(lead: Lead, key: bytes) -> str:
    """The lead's name, else profile name, else phone, else a dash; each opened only when
    the one before it is empty."""
    cipher = LEADS.cipher(key, lead.id)
    return (
        cipher.open("name", lead.name_enc)
        or cipher.open("profile_name", lead.profile_name_enc)
        or cipher.open("phone", lead.phone_enc)
        or "—"
    )
