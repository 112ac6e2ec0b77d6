"""/api/v1/messages: one message and its status history."""

from __future__ import annotations

from fastapi import APIRouter

from ovenai import conversations
from ovenai.web.api.schemas import MessageDetailPublic, message_public
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/messages", tags=["messages"])


@router.get("/{message_id}")
async def get_message(
    message_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> MessageDetailPublic:
    """A message with its status history."""
    record = await conversations.get_message(db, actor=actor, message_id=message_id)
    return MessageDetailPublic(**message_public(record, settings.zone))
