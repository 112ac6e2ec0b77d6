"""/api/v1/messages: one message and its status history."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ovenai import conversations, media, media_store
from ovenai.quiet_hours import QuietHours
from ovenai.web.api.schemas import MessageDetailPublic, PublicModel, answer, public_model
from ovenai.web.deps import ActorDep, DbDep, SettingsDep
from ovenai.web.downloads import file_response

router = APIRouter(prefix="/messages", tags=["messages"])
MediaPublic = public_model(
    media.MediaRecord,
    "MediaPublic",
    "The file a lead sent with a message: what Meta declared, and whether it is stored "
    "(pending, fetching, stored, failed or quarantined, with why).",
)


@router.get("/{message_id}", response_model=MessageDetailPublic)
async def get_message(
    message_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """A message with its status history (`held`: waiting out a quiet time, until when)."""
    quiet = QuietHours.from_settings(settings)
    record = await conversations.get_message(db, actor=actor, message_id=message_id, quiet=quiet)
    return answer(MessageDetailPublic, record, settings.zone)


@router.get("/{message_id}/media", response_model=MediaPublic)
async def get_message_media(
    message_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """The file of an inbound media message: its type, size and state (no bytes)."""
    record = await media.of_message(db, actor=actor, message_id=message_id)
    return answer(MediaPublic, record, settings.zone)


@router.get(
    "/{message_id}/media/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_message_media(
    message_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> StreamingResponse:
    """The file itself, decrypted, as an attachment (audited); 409 while it is not stored
    or when it was quarantined."""
    record = await media.of_message(db, actor=actor, message_id=message_id)
    download = await media.open_content(
        db,
        media_store.store_for(settings),
        actor=actor,
        lead_id=record.lead_id,
        media_id=record.id,
        via="api",
    )
    return file_response(download)
