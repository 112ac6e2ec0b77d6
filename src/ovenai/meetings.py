"""Meetings (viewings): a lead, a property and a time, stored in UTC, shown in Israel time."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import engagement, hooks
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import InvalidInput, NotFound
from ovenai.leads import assigned_to, load_visible, lock_unerased, refuse_erased, visible_to
from ovenai.models import Lead, Meeting, MeetingStatus, Property, User
from ovenai.pagination import Page, PageQuery, page_of, paginate
from ovenai.plain_text import PlainText
from ovenai.sealing import MEETINGS

Id = Annotated[str, StringConstraints(min_length=36, max_length=36)]
Notes = Annotated[str, StringConstraints(max_length=5000), PlainText]


class MeetingUpdate(BaseModel):
    """Changes to a viewing; only given fields are touched."""

    model_config = ConfigDict(extra="forbid")

    property_id: Id | None = None
    agent_id: Id | None = None
    starts_at: datetime | None = None
    duration_minutes: Annotated[int, Field(ge=5, le=600)] | None = None
    status: MeetingStatus | None = None
    notes: Notes | None = None
    recorded_after: bool = Field(
        False,
        description="the viewing already took place and is recorded after the fact: a start "
        "in the past is accepted (refused otherwise)",
    )

    @field_validator("starts_at", "duration_minutes", "status")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """Every viewing has these (null was a database error, a 500: schemathesis)."""
        if value is None:
            raise ValueError("may not be null")
        return value


PAST_GRACE = timedelta(minutes=5)
"""How far in the past a start may be without ``recorded_after`` (a form filled slowly)."""

_BOOKED = (MeetingStatus.PROPOSED, MeetingStatus.CONFIRMED)
"""A viewing in these states is booked (hooks.after_meeting_booked)."""


class MeetingCreate(MeetingUpdate):
    """A new viewing; a time without an offset is read in the agency's time zone."""

    lead_id: Id
    starts_at: datetime
    status: MeetingStatus = MeetingStatus.PROPOSED


class MeetingFilter(PageQuery):
    """Filters of the meeting list."""

    lead_id: Id | None = None
    property_id: Id | None = None
    status: MeetingStatus | None = None
    starts_from: datetime | None = None  # without an offset: the agency's time zone
    starts_until: datetime | None = None


@dataclass(frozen=True)
class MeetingRecord:
    """A viewing as agents see it."""

    id: str
    lead_id: str
    property_id: str | None
    agent_id: str | None
    starts_at: datetime
    duration_minutes: int
    status: str
    notes: str | None
    reminder_sent_at: datetime | None
    created_at: datetime
    updated_at: datetime


def _aware(value: datetime, zone: tzinfo) -> datetime:
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def _start(value: datetime, zone: tzinfo, *, recorded_after: bool) -> datetime:
    """A meeting's start, read in ``zone`` when it has no offset; InvalidInput when it is in
    the past and the meeting is not marked as recorded after the fact."""
    starts = _aware(value, zone)
    if starts < utcnow() - PAST_GRACE and not recorded_after:
        raise InvalidInput(
            "the start is in the past; set recorded_after to record a viewing that took place",
            field="starts_at",
        )
    return starts


# The record's fields read as they are from the row: all but the sealed ones.
_STORED_FIELDS = tuple(f.name for f in fields(MeetingRecord) if f.name not in MEETINGS.columns)


def open_meeting(meeting: Meeting, key: bytes) -> MeetingRecord:
    """Decrypt one stored meeting with its lead's key."""
    sealed: dict[str, Any] = MEETINGS.open_all(meeting, key)
    return MeetingRecord(**sealed, **{name: getattr(meeting, name) for name in _STORED_FIELDS})


async def _record(db: Database, meeting: Meeting) -> MeetingRecord:
    return open_meeting(meeting, await db.vault.key("lead", meeting.lead_id))


async def _writable_lead(session: AsyncSession, actor: Actor, lead_id: str) -> Lead:
    """The meeting's lead, locked for this transaction; Gone if it was erased."""
    try:
        return await load_visible(session, actor, lead_id, for_update=True)
    except NotFound as exc:
        raise InvalidInput(f"no lead {lead_id}", field="lead_id") from exc


async def _check_property(session: AsyncSession, property_id: str | None) -> None:
    if property_id is not None and await session.get(Property, property_id) is None:
        raise InvalidInput(f"no property {property_id}", field="property_id")


async def _check_agent(session: AsyncSession, agent_id: str | None) -> None:
    """The viewing's agent is an active user (an unknown id was a foreign-key error, a 500:
    schemathesis, docs/drills.md)."""
    if agent_id is None:
        return
    user = await session.get(User, agent_id)
    if user is None or not user.is_active:
        raise InvalidInput(f"no active user {agent_id}", field="agent_id")


async def create_meeting(
    db: Database, *, actor: Actor, data: MeetingCreate, zone: tzinfo
) -> MeetingRecord:
    """Book a viewing for a lead the actor may see."""
    async with db.session() as session:
        await _writable_lead(session, actor, data.lead_id)
        await _check_property(session, data.property_id)
        await _check_agent(session, data.agent_id)
        values = data.model_dump(exclude={"notes", "recorded_after"})
        starts = _start(data.starts_at, zone, recorded_after=data.recorded_after)
        meeting = Meeting(**{**values, "starts_at": starts})
        meeting.agent_id = meeting.agent_id or actor.user_id
        session.add(meeting)
        await session.flush()
        key = await db.vault.key("lead", meeting.lead_id)
        MEETINGS.seal_into(meeting, key, {"notes": data.notes})
        await engagement.viewing_booked(session, meeting)
        if meeting.status in _BOOKED:
            await session.flush()
            await hooks.run_after_meeting_booked(session, meeting)
        await session.commit()
        return await _record(db, meeting)


async def _load(
    session: AsyncSession, actor: Actor, meeting_id: str, *, for_update: bool = False
) -> Meeting:
    """A meeting of a lead the actor may see; NotFound if none, Gone if the lead was erased
    (its lead's row locked when `for_update`, see :func:`ovenai.leads.lock_unerased`)."""
    query = (
        select(Meeting, Lead.erased_at)
        .join(Lead, Lead.id == Meeting.lead_id)
        .where(Meeting.id == meeting_id, assigned_to(actor))
    )
    found = (await session.execute(query)).one_or_none()
    if found is None:
        raise NotFound(f"no meeting {meeting_id}")
    meeting, erased_at = found
    refuse_erased(meeting.lead_id, erased_at)
    if for_update:
        await lock_unerased(session, meeting.lead_id)
    return meeting


async def get_meeting(db: Database, *, actor: Actor, meeting_id: str) -> MeetingRecord:
    """One viewing of a lead the actor may see."""
    async with db.session() as session:
        return await _record(db, await _load(session, actor, meeting_id))


async def update_meeting(
    db: Database, *, actor: Actor, meeting_id: str, changes: MeetingUpdate, zone: tzinfo
) -> MeetingRecord:
    """Change the given fields of a viewing; a new time clears the reminder mark."""
    given = changes.model_dump(exclude_unset=True)
    recorded_after = given.pop("recorded_after", False)
    async with db.session() as session:
        meeting = await _load(session, actor, meeting_id, for_update=True)
        await _check_property(session, given.get("property_id"))
        await _check_agent(session, given.get("agent_id"))
        if given.get("starts_at") is not None:
            given["starts_at"] = _start(given["starts_at"], zone, recorded_after=recorded_after)
            meeting.reminder_sent_at = None
        if "notes" in given:
            key = await db.vault.key("lead", meeting.lead_id)
            MEETINGS.seal_into(meeting, key, {"notes": given.pop("notes")})
        confirmed = (
            given.get("status") == MeetingStatus.CONFIRMED
            and meeting.status != MeetingStatus.CONFIRMED
        )
        for name, value in given.items():
            setattr(meeting, name, value)
        await engagement.viewing_booked(session, meeting)
        if confirmed:
            await session.flush()
            await hooks.run_after_meeting_booked(session, meeting)
        await session.commit()
        return await _record(db, meeting)


async def list_meetings(
    db: Database,
    *,
    actor: Actor,
    filters: MeetingFilter,
    zone: tzinfo | None = None,
) -> Page[MeetingRecord]:
    """Viewings of leads the actor may see, newest first; filter times without an offset are
    read in ``zone`` (UTC when None)."""
    query: Any = select(Meeting).join(Lead, Lead.id == Meeting.lead_id).where(visible_to(actor))
    for name in ("lead_id", "property_id", "status"):
        if getattr(filters, name):
            query = query.where(getattr(Meeting, name) == getattr(filters, name))
    local = zone or UTC
    if filters.starts_from:
        query = query.where(Meeting.starts_at >= _aware(filters.starts_from, local))
    if filters.starts_until:
        query = query.where(Meeting.starts_at < _aware(filters.starts_until, local))
    async with db.reading() as session:
        rows = list(await session.scalars(paginate(query, Meeting.id, filters)))
        page = page_of(rows, filters, lambda meeting: meeting.id)
        return Page([await _record(db, m) for m in page.items], page.next_cursor)
