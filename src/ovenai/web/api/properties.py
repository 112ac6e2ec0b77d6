"""/api/v1/properties: the agency's listings, and each one's photos and brochure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse

from ovenai import matching, media_store, properties, property_files
from ovenai.models import PropertyFileRole
from ovenai.properties import PropertyCreate, PropertyFilter, PropertyUpdate
from ovenai.web.api.schemas import (
    MatchesPublic,
    PagePublic,
    PropertyFilePublic,
    PropertyPublic,
    PublicModel,
    answer,
    list_model,
    page_answer,
    page_model,
)
from ovenai.web.deps import ActorDep, DbDep, SettingsDep
from ovenai.web.downloads import file_response

router = APIRouter(prefix="/properties", tags=["properties"])


@router.post("", status_code=201, response_model=PropertyPublic)
async def create_property(
    body: PropertyCreate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Add a listing (admins)."""
    prop = await properties.create_property(db, actor=actor, data=body)
    return answer(PropertyPublic, prop, settings.zone)


@router.get("", response_model=page_model(PropertyPublic))
async def list_properties(
    db: DbDep,
    _actor: ActorDep,
    settings: SettingsDep,
    filters: Annotated[PropertyFilter, Query()],
) -> PagePublic[PublicModel]:
    """Listings, newest first."""
    page = await properties.list_properties(db, filters=filters)
    return page_answer(PropertyPublic, page, settings.zone)


@router.get("/{property_id}", response_model=PropertyPublic)
async def get_property(
    property_id: str, db: DbDep, _actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """One listing."""
    prop = await properties.get_property(db, property_id=property_id)
    return answer(PropertyPublic, prop, settings.zone)


@router.patch("/{property_id}", response_model=PropertyPublic)
async def update_property(
    property_id: str, body: PropertyUpdate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Change a listing (admins)."""
    prop = await properties.update_property(db, actor=actor, property_id=property_id, changes=body)
    return answer(PropertyPublic, prop, settings.zone)


@router.get("/{property_id}/matches", response_model=MatchesPublic)
async def property_matches(
    property_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """The leads the caller may see whose criteria the listing meets, best first, each with
    why; the others with the criteria that fail (budget tolerance: 10 %)."""
    found = await matching.matches_for(db, actor=actor, property_id=property_id)
    return answer(MatchesPublic, found, settings.zone)


@router.get("/{property_id}/files", response_model=list_model(PropertyFilePublic))
async def list_property_files(
    property_id: str, db: DbDep, _actor: ActorDep, settings: SettingsDep
) -> list[PublicModel]:
    """The listing's photos in gallery order, then its brochure (no bytes)."""
    found = await property_files.list_files(db, property_id=property_id)
    return [answer(PropertyFilePublic, record, settings.zone) for record in found]


@router.post("/{property_id}/files", status_code=201, response_model=PropertyFilePublic)
async def add_property_file(
    property_id: str,
    role: Annotated[PropertyFileRole, Form(description="photo (JPEG/PNG, 5 MB) or brochure (PDF)")],
    file: Annotated[UploadFile, File(description="the file itself")],
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
) -> PublicModel:
    """Add a photo to the listing's gallery (at most 10) or set its brochure, replacing the
    one before (admins; multipart form). The type is read from the bytes: 422 for another
    type or a file over the limit."""
    data = await file.read()
    record = await property_files.add_file(
        db,
        media_store.store_for(settings),
        actor=actor,
        property_id=property_id,
        role=role,
        filename=file.filename or role.value,
        data=data,
    )
    return answer(PropertyFilePublic, record, settings.zone)


@router.get(
    "/{property_id}/files/{file_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_property_file(
    property_id: str, file_id: str, db: DbDep, _actor: ActorDep, settings: SettingsDep
) -> StreamingResponse:
    """The file itself, decrypted, as an attachment."""
    download = await property_files.open_file(
        db, media_store.store_for(settings), property_id=property_id, file_id=file_id
    )
    return file_response(download)


@router.delete("/{property_id}/files/{file_id}", status_code=204)
async def remove_property_file(
    property_id: str, file_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> None:
    """Remove a photo or the brochure (admins); sends already queued with it fail saying so."""
    await property_files.remove_file(
        db, media_store.store_for(settings), actor=actor, property_id=property_id, file_id=file_id
    )
