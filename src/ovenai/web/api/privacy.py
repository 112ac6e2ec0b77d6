"""/api/v1/privacy and /api/v1/audit: data-subject requests and the audit log (admins)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ovenai import audit, privacy, privacy_export
from ovenai.web.api.schemas import (
    AuditPublic,
    ErasurePublic,
    PublicModel,
    RequestPublic,
    answer,
    list_model,
)
from ovenai.web.deps import ActorDep, DbDep

router = APIRouter(tags=["privacy"])
# Requests and audit entries have always been answered in UTC, as stored, and clients rely
# on it: `answer` is given no zone here (the other routes show the agency's zone).
Phone = Annotated[str, Field(min_length=3, max_length=40)]


class PhoneBody(BaseModel):
    """A person named by phone number."""

    model_config = ConfigDict(extra="forbid")

    phone: Phone


class RequestBody(PhoneBody):
    """A request received today."""

    kind: Literal["access", "erasure"]


@router.get("/privacy/export", response_class=Response)
async def export(
    db: DbDep,
    actor: ActorDep,
    phone: Annotated[str, Query(min_length=3, max_length=40)],
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    """Everything held about a person: JSON, or a zip of CSV files."""
    data = await privacy_export.export(db, actor=actor, phone=phone, fmt=fmt)
    if fmt == "json":
        return Response(data, media_type="application/json; charset=utf-8")
    headers = {"Content-Disposition": 'attachment; filename="export.zip"'}
    return Response(data, media_type="application/zip", headers=headers)


@router.post("/privacy/erase", response_model=ErasurePublic)
async def erase(body: PhoneBody, db: DbDep, actor: ActorDep) -> PublicModel:
    """Erase a person irreversibly."""
    report = await privacy.erase(db, actor=actor, phone=body.phone)
    return answer(ErasurePublic, report)


@router.post("/privacy/requests", status_code=201, response_model=RequestPublic)
async def record_request(body: RequestBody, db: DbDep, actor: ActorDep) -> PublicModel:
    """Record a request received today (its 30-day deadline starts now)."""
    record = await privacy.record_request(db, actor=actor, kind=body.kind, phone=body.phone)
    return answer(RequestPublic, record)


@router.get("/privacy/requests", response_model=list_model(RequestPublic))
async def list_requests(db: DbDep, actor: ActorDep) -> list[PublicModel]:
    """Every request; open ones past their deadline are overdue."""
    return [answer(RequestPublic, r) for r in await privacy.list_requests(db, actor=actor)]


@router.get("/audit", response_model=list_model(AuditPublic))
async def read_audit(
    db: DbDep, actor: ActorDep, subject_id: str | None = None
) -> list[PublicModel]:
    """The newest audit entries (admins)."""
    entries = await audit.read_log(db, actor=actor, subject_id=subject_id)
    return [answer(AuditPublic, entry) for entry in entries]
