"""POST /api/v1/leads/{id}/messages: queue a send (the worker sends it; 202 at once)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header
from pydantic import BaseModel

from ovenai.outbox import queue
from ovenai.quiet_hours import QuietHours
from ovenai.web.api.schemas import HeldPublic
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/leads", tags=["messages"])


class QueuedPublic(BaseModel):
    """A send accepted into the outbox."""

    id: str
    status: str
    send_at: datetime | None
    # A marketing message queued in a quiet time (night, Shabbat, a holiday) leaves after it.
    held: HeldPublic | None


@router.post("/{lead_id}/messages", status_code=202)
async def send_message(
    lead_id: str,
    body: queue.OutboundRequest,
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> QueuedPublic:
    """Queue a template (409 when it may not go, 422 when parameters or the language do not
    fit) or free text (409 outside the lead's 24-hour window). A `send_at` without an offset
    is Israel time. An `Idempotency-Key` answers its first send again for the same body, and
    422 for another body."""
    queued = await queue.send_message(
        db,
        actor=actor,
        lead_id=lead_id,
        request=body,
        waba_id=settings.whatsapp_business_account_id or "",
        zone=settings.zone,
        idempotency_key=idempotency_key,
        quiet=QuietHours.from_settings(settings),
    )
    send_at = queued.send_after.astimezone(settings.zone) if queued.send_after else None
    held = HeldPublic.of(queued.held, settings.zone) if queued.held else None
    return QueuedPublic(id=queued.id, status=queued.status, send_at=send_at, held=held)
