"""/api/v1/meetings: viewings of properties with leads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ovenai import meetings
from ovenai.meetings import MeetingCreate, MeetingFilter, MeetingUpdate
from ovenai.web.api.schemas import MeetingPublic, PagePublic, shown
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/meetings", tags=["meetings"])


@router.post("", status_code=201)
async def create_meeting(
    body: MeetingCreate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> MeetingPublic:
    """Book a viewing; a time without an offset is read as Israel time."""
    record = await meetings.create_meeting(db, actor=actor, data=body, zone=settings.zone)
    return MeetingPublic(**shown(record, settings.zone))


@router.get("")
async def list_meetings(
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    filters: Annotated[MeetingFilter, Query()],
) -> PagePublic[MeetingPublic]:
    """Viewings, newest first."""
    page = await meetings.list_meetings(db, actor=actor, filters=filters)
    items = [MeetingPublic(**shown(record, settings.zone)) for record in page.items]
    return PagePublic(items=items, next_cursor=page.next_cursor)


@router.get("/{meeting_id}")
async def get_meeting(
    meeting_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> MeetingPublic:
    """One viewing."""
    record = await meetings.get_meeting(db, actor=actor, meeting_id=meeting_id)
    return MeetingPublic(**shown(record, settings.zone))


@router.patch("/{meeting_id}")
async def update_meeting(
    meeting_id: str, body: MeetingUpdate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> MeetingPublic:
    """Change a viewing."""
    record = await meetings.update_meeting(
        db, actor=actor, meeting_id=meeting_id, changes=body, zone=settings.zone
    )
    return MeetingPublic(**shown(record, settings.zone))
