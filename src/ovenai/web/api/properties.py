"""/api/v1/properties: the agency's listings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ovenai import matching, properties
from ovenai.properties import PropertyCreate, PropertyFilter, PropertyUpdate
from ovenai.web.api.schemas import (
    MatchesPublic,
    PagePublic,
    PropertyPublic,
    PublicModel,
    answer,
    page_answer,
    page_model,
)
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

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
