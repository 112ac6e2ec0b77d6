"""/api/v1/messages: one message and its status history."""

from __future__ import annotations

from fastapi import APIRouter

from ovenai import conversations
from ovenai.web.api.schemas import MessageDetailPublic, PublicModel, answer
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/messages", tags=["messages"])


@router.get("/{message_id}", response_model=MessageDetailPublic)
async def get_message(
    message_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """A message with its status history."""
    record = await conversations.get_message(db, actor=actor, message_id=message_id)
    return answer(MessageDetailPublic, record, settings.zone)
