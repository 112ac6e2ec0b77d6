"""/api/v1/privacy and /api/v1/audit: data-subject requests and the audit log (admins).

A person is named by exactly one identity OvenAI stores, each in a field of its own (the
query of the export, the body of the erasure and of a request): ``phone``, ``bsuid``,
``wa_id``, ``username``, ``email`` or ``lead_id`` (:func:`ovenai.privacy.find_subject`). None or
several answer 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ovenai import audit, media_store, privacy, privacy_export
from ovenai.web.api.schemas import (
    AuditPublic,
    ErasurePublic,
    PublicModel,
    RequestPublic,
    answer,
    list_model,
)
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(tags=["privacy"])
# Times in the agency's zone with its offset, as every route answers them (and the export).
Phone = Annotated[str, Field(min_length=3, max_length=40)]
Bsuid = Annotated[str, Field(min_length=4, max_length=200)]
WaId = Annotated[str, Field(min_length=5, max_length=40)]
Username = Annotated[str, Field(min_length=1, max_length=101)]
Email = Annotated[str, Field(min_length=3, max_length=320)]
LeadId = Annotated[str, Field(min_length=32, max_length=40)]


class SubjectBody(BaseModel):
    """A person named by exactly one identity OvenAI stores."""

    model_config = ConfigDict(extra="forbid")

    phone: Phone | None = None
    bsuid: Bsuid | None = None
    wa_id: WaId | None = None
    username: Username | None = None
    email: Email | None = None
    lead_id: LeadId | None = None

    def identity(self) -> privacy.Identity:
        """The identity as the service takes it."""
        return privacy.Identity(
            phone=self.phone,
            bsuid=self.bsuid,
            wa_id=self.wa_id,
            username=self.username,
            email=self.email,
            lead_id=self.lead_id,
        )


class SubjectQuery(SubjectBody):
    """The same in a query string, beside other parameters (``format``)."""

    model_config = ConfigDict(extra="ignore")


class RequestBody(SubjectBody):
    """A request received today."""

    kind: Literal["access", "erasure"]


@router.get("/privacy/export", response_class=Response)
async def export(
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    subject: Annotated[SubjectQuery, Query()],
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    """Everything held about a person: JSON, or a zip of CSV files."""
    files = media_store.store_for(settings)  # the zip holds the files the person sent
    data = await privacy_export.export(
        db, actor=actor, fmt=fmt, files=files, zone=settings.zone, **subject.identity()
    )
    if fmt == "json":
        return Response(data, media_type="application/json; charset=utf-8")
    headers = {"Content-Disposition": 'attachment; filename="export.zip"'}
    return Response(data, media_type="application/zip", headers=headers)


@router.post("/privacy/erase", response_model=ErasurePublic)
async def erase(
    body: SubjectBody, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Erase a person irreversibly (the files they sent deleted too)."""
    files = media_store.store_for(settings)
    report = await privacy.erase(db, actor=actor, files=files, **body.identity())
    return answer(ErasurePublic, report, settings.zone)


@router.post("/privacy/requests", status_code=201, response_model=RequestPublic)
async def record_request(
    body: RequestBody, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Record a request received today (its 30-day deadline starts now)."""
    record = await privacy.record_request(db, actor=actor, kind=body.kind, **body.identity())
    return answer(RequestPublic, record, settings.zone)


@router.get("/privacy/requests", response_model=list_model(RequestPublic))
async def list_requests(db: DbDep, actor: ActorDep, settings: SettingsDep) -> list[PublicModel]:
    """Every request; open ones past their deadline are overdue."""
    found = await privacy.list_requests(db, actor=actor)
    return [answer(RequestPublic, r, settings.zone) for r in found]


@router.get("/audit", response_model=list_model(AuditPublic))
async def read_audit(
    db: DbDep, actor: ActorDep, settings: SettingsDep, subject_id: str | None = None
) -> list[PublicModel]:
    """The newest audit entries (admins)."""
    entries = await audit.read_log(db, actor=actor, subject_id=subject_id)
    return [answer(AuditPublic, entry, settings.zone) for entry in entries]
