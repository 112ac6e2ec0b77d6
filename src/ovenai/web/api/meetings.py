"""/api/v1/meetings: viewings of properties with leads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ovenai import meetings
from ovenai.meetings import MeetingCreate, MeetingFilter, MeetingUpdate
from ovenai.web.api.schemas import (
    MeetingPublic,
    PagePublic,
    PublicModel,
    answer,
    page_answer,
    page_model,
)
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/meetings", tags=["meetings"])


@router.post("", status_code=201, response_model=MeetingPublic)
async def create_meeting(
    body: MeetingCreate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Book a viewing; a time without an offset is read as Israel time. A start in the past
    is refused (422) unless `recorded_after` is true (a viewing recorded after the fact)."""
    record = await meetings.create_meeting(db, actor=actor, data=body, zone=settings.zone)
    return answer(MeetingPublic, record, settings.zone)


@router.get("", response_model=page_model(MeetingPublic))
async def list_meetings(
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    filters: Annotated[MeetingFilter, Query()],
) -> PagePublic[PublicModel]:
    """Viewings, newest first; `starts_from`/`starts_until` without an offset are Israel time."""
    page = await meetings.list_meetings(db, actor=actor, filters=filters, zone=settings.zone)
    return page_answer(MeetingPublic, page, settings.zone)


@router.get("/{meeting_id}", response_model=MeetingPublic)
async def get_meeting(
    meeting_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """One viewing."""
    record = await meetings.get_meeting(db, actor=actor, meeting_id=meeting_id)
    return answer(MeetingPublic, record, settings.zone)


@router.patch("/{meeting_id}", response_model=MeetingPublic)
async def update_meeting(
    meeting_id: str, body: MeetingUpdate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Change a viewing."""
    record = await meetings.update_meeting(
        db, actor=actor, meeting_id=meeting_id, changes=body, zone=settings.zone
    )
    return answer(MeetingPublic, record, settings.zone)
