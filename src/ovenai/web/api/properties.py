"""/api/v1/properties: the agency's listings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ovenai import properties
from ovenai.properties import PropertyCreate, PropertyFilter, PropertyUpdate
from ovenai.web.api.schemas import PagePublic, PropertyPublic, shown
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/properties", tags=["properties"])


@router.post("", status_code=201)
async def create_property(
    body: PropertyCreate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PropertyPublic:
    """Add a listing (admins)."""
    prop = await properties.create_property(db, actor=actor, data=body)
    return PropertyPublic(**shown(prop, settings.zone))


@router.get("")
async def list_properties(
    db: DbDep,
    _actor: ActorDep,
    settings: SettingsDep,
    filters: Annotated[PropertyFilter, Query()],
) -> PagePublic[PropertyPublic]:
    """Listings, newest first."""
    page = await properties.list_properties(db, filters=filters)
    items = [PropertyPublic(**shown(prop, settings.zone)) for prop in page.items]
    return PagePublic(items=items, next_cursor=page.next_cursor)


@router.get("/{property_id}")
async def get_property(
    property_id: str, db: DbDep, _actor: ActorDep, settings: SettingsDep
) -> PropertyPublic:
    """One listing."""
    prop = await properties.get_property(db, property_id=property_id)
    return PropertyPublic(**shown(prop, settings.zone))


@router.patch("/{property_id}")
async def update_property(
    property_id: str, body: PropertyUpdate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PropertyPublic:
    """Change a listing (admins)."""
    prop = await properties.update_property(db, actor=actor, property_id=property_id, changes=body)
    return PropertyPublic(**shown(prop, settings.zone))
