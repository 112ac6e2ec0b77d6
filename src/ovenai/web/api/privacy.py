"""/api/v1/privacy and /api/v1/audit: data-subject requests and the audit log (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ovenai import audit, privacy, privacy_export
from ovenai.web.deps import ActorDep, DbDep

router = APIRouter(tags=["privacy"])
Phone = Annotated[str, Field(min_length=3, max_length=40)]


class PhoneBody(BaseModel):
    """A person named by phone number."""

    model_config = ConfigDict(extra="forbid")

    phone: Phone


class RequestBody(PhoneBody):
    """A request received today."""

    kind: Literal["access", "erasure"]


class RequestPublic(BaseModel):
    """A data-subject request and its deadline."""

    id: str
    kind: str
    lead_id: str | None
    requested_at: datetime
    due_at: datetime
    completed_at: datetime | None
    requested_by: str
    overdue: bool


class ErasurePublic(BaseModel):
    """What an erasure touched."""

    lead_id: str
    messages: int
    meetings: int
    consent_events: int
    webhook_bodies: int
    rekeyed_hours: int


class AuditPublic(BaseModel):
    """One audit entry."""

    id: str
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str | None
    details: dict[str, object] | None


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


@router.post("/privacy/erase")
async def erase(body: PhoneBody, db: DbDep, actor: ActorDep) -> ErasurePublic:
    """Erase a person irreversibly."""
    report = await privacy.erase(db, actor=actor, phone=body.phone)
    return ErasurePublic(**report.__dict__)


@router.post("/privacy/requests", status_code=201)
async def record_request(body: RequestBody, db: DbDep, actor: ActorDep) -> RequestPublic:
    """Record a request received today (its 30-day deadline starts now)."""
    record = await privacy.record_request(db, actor=actor, kind=body.kind, phone=body.phone)
    return RequestPublic(**record.__dict__)


@router.get("/privacy/requests")
async def list_requests(db: DbDep, actor: ActorDep) -> list[RequestPublic]:
    """Every request; open ones past their deadline are overdue."""
    return [RequestPublic(**r.__dict__) for r in await privacy.list_requests(db, actor=actor)]


@router.get("/audit")
async def read_audit(
    db: DbDep, actor: ActorDep, subject_id: str | None = None
) -> list[AuditPublic]:
    """The newest audit entries (admins)."""
    entries = await audit.read_log(db, actor=actor, subject_id=subject_id)
    return [AuditPublic(**entry.__dict__) for entry in entries]
