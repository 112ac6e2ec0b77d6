"""Properties (listings) the agency offers."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select

from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.errors import NotFound, PermissionDenied
from ovenai.models import Property, PropertyStatus
from ovenai.pagination import Page, PageQuery, page_of, paginate
from ovenai.plain_text import PlainText

Text100 = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), PlainText
]
Text300 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300), PlainText]
Rooms = Annotated[Decimal, Field(ge=0, le=50, max_digits=3, decimal_places=1)]


class PropertyUpdate(BaseModel):
    """Changes to a listing; only given fields are touched."""

    model_config = ConfigDict(extra="forbid")

    title: Text300 | None = None
    city: Text100 | None = None
    area: Text100 | None = None
    address: Text300 | None = None
    rooms: Rooms | None = None
    size_m2: Annotated[int, Field(ge=1, le=100_000)] | None = None
    price: Annotated[int, Field(ge=0, le=1_000_000_000)] | None = None
    status: PropertyStatus | None = None
    description: Annotated[str, StringConstraints(max_length=5000), PlainText] | None = None

    @field_validator("title", "city", "status")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """A listing always has these (null was a database error, a 500: schemathesis)."""
        if value is None:
            raise ValueError("may not be null")
        return value


class PropertyCreate(PropertyUpdate):
    """A new listing: its city at least."""

    city: Text100
    title: Text300 = ""
    status: PropertyStatus = PropertyStatus.AVAILABLE


class PropertyFilter(PageQuery):
    """Filters of the listing list."""

    city: Text100 | None = None
    status: PropertyStatus | None = None
    rooms_min: Rooms | None = None
    price_max: int | None = None


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only admins may change listings")


async def create_property(db: Database, *, actor: Actor, data: PropertyCreate) -> Property:
    """Add a listing (admins only)."""
    _require_admin(actor)
    prop = Property(**data.model_dump())
    async with db.session() as session:
        session.add(prop)
        await session.commit()
    return prop


async def get_property(db: Database, *, property_id: str) -> Property:
    """One listing; NotFound otherwise."""
    async with db.reading() as session:
        prop = await session.get(Property, property_id)
    if prop is None:
        raise NotFound(f"no property {property_id}")
    return prop


async def update_property(
    db: Database, *, actor: Actor, property_id: str, changes: PropertyUpdate
) -> Property:
    """Change the given fields of a listing (admins only)."""
    _require_admin(actor)
    async with db.session() as session:
        prop = await session.get(Property, property_id)
        if prop is None:
            raise NotFound(f"no property {property_id}")
        for name, value in changes.model_dump(exclude_unset=True).items():
            setattr(prop, name, value)
        await session.commit()
    return prop


async def list_properties(db: Database, *, filters: PropertyFilter) -> Page[Property]:
    """Listings, newest first, filtered."""
    query: Any = select(Property)
    if filters.city:
        query = query.where(Property.city == filters.city)
    if filters.status:
        query = query.where(Property.status == filters.status)
    if filters.rooms_min is not None:
        query = query.where(Property.rooms >= filters.rooms_min)
    if filters.price_max is not None:
        query = query.where(Property.price <= filters.price_max)
    async with db.reading() as session:
        rows = list(await session.scalars(paginate(query, Property.id, filters)))
    return page_of(rows, filters, lambda prop: prop.id)
