"""/api/v1/notifications: the caller's own in-app notifications (what automation wants them
to know about a lead), and marking them read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from ovenai import notifications
from ovenai.web.api.schemas import (
    PagePublic,
    PublicModel,
    page_answer,
    page_model,
    public_model,
)
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/notifications", tags=["notifications"])

NotificationPublic = public_model(
    notifications.NotificationRecord,
    "NotificationPublic",
    "A notification for the caller, about a lead (the rule's words, never the lead's);"
    " unread while `read_at` is null.",
)


class NotificationsReadPublic(BaseModel):
    """How many notifications were marked read."""

    model_config = ConfigDict(extra="forbid")

    marked: int


@router.get("", response_model=page_model(NotificationPublic))
async def list_notifications(
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    query: Annotated[notifications.NotificationQuery, Query()],
) -> PagePublic[PublicModel]:
    """The caller's notifications newest first: ``unread=true`` for the unread ones only,
    ``cursor``, ``limit``."""
    page = await notifications.list_notifications(db, actor=actor, query=query)
    return page_answer(NotificationPublic, page, settings.zone)


@router.post("/read", response_model=NotificationsReadPublic)
async def mark_all_read(db: DbDep, actor: ActorDep) -> NotificationsReadPublic:
    """Mark every notification of the caller read."""
    return NotificationsReadPublic(marked=await notifications.mark_read(db, actor=actor))


@router.post("/{notification_id}/read", response_model=NotificationsReadPublic)
async def mark_read(notification_id: str, db: DbDep, actor: ActorDep) -> NotificationsReadPublic:
    """Mark one of the caller's notifications read (404 if it is not theirs)."""
    marked = await notifications.mark_read(db, actor=actor, notification_id=notification_id)
    return NotificationsReadPublic(marked=marked)
