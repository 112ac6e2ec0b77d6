"""/api/v1/webhooks/failures: stored webhook bodies that failed or have failed items (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from ovenai.ingest import failures
from ovenai.web.api.schemas import FailedBodyPublic, PublicModel, answer, list_model
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get("/failures", response_model=list_model(FailedBodyPublic))
async def list_failures(
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    since: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[PublicModel]:
    """Failed bodies and bodies with failed items, newest first, each with where and why its
    items could not be read; ``since`` without an offset is read as the agency's time."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=settings.zone)
    found = await failures.failed_bodies(db, actor=actor, since=since, limit=limit)
    return [answer(FailedBodyPublic, body, settings.zone) for body in found]
