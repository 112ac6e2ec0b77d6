"""/api/v1/alerts: open alerts and their history, and acknowledging one (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ovenai import alerts
from ovenai.web.api.schemas import PublicModel, answer, list_model, public_model
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/alerts", tags=["alerts"])

AlertPublic = public_model(
    alerts.AlertRecord,
    "AlertPublic",
    "Something an owner must know; open while ``resolved_at`` is null (never personal data).",
)


@router.get("", response_model=list_model(AlertPublic))
async def list_alerts(
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    state: Annotated[str, Query(pattern="^(open|all)$")] = "all",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[PublicModel]:
    """Alerts newest first: ``state=open`` for the open ones, ``all`` with the history."""
    found = await alerts.list_alerts(db, actor=actor, open_only=state == "open", limit=limit)
    return [answer(AlertPublic, record, settings.zone) for record in found]


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic)
async def acknowledge(
    alert_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Record that an admin has seen the alert; it stays open until its cause ends."""
    record = await alerts.acknowledge(db, actor=actor, alert_id=alert_id)
    return answer(AlertPublic, record, settings.zone)
