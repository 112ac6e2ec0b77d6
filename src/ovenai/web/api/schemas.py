"""Public shapes of the REST API (what clients receive)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


def shown(record: Any, zone: tzinfo) -> dict[str, Any]:
    """A record as plain values: times in the agency's zone, decimals as numbers."""
    items = (
        dataclasses.asdict(record).items()
        if dataclasses.is_dataclass(record) and not isinstance(record, type)
        else ((c.key, getattr(record, c.key)) for c in record.__table__.columns)
    )
    return {key: _value(value, zone) for key, value in items}


def _value(value: Any, zone: tzinfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(zone)
    if isinstance(value, Decimal):
        return float(value)
    return value


class PagePublic(BaseModel, Generic[T]):
    """One page of a list and the cursor of the next."""

    items: list[T]
    next_cursor: str | None


class LeadPublic(BaseModel):
    """A lead."""

    id: str
    name: str | None
    phone: str | None
    bsuid: str | None
    wa_id: str | None
    username: str | None
    profile_name: str | None
    notes: str | None
    language: str
    source: str
    stage: str
    assigned_agent_id: str | None
    property_id: str | None
    want_city: str | None
    want_area: str | None
    want_rooms_min: float | None
    want_rooms_max: float | None
    want_size_min: int | None
    want_budget_min: int | None
    want_budget_max: int | None
    engagement_score: int
    opted_in_at: datetime | None
    opt_in_source: str | None
    opted_out_at: datetime | None
    last_inbound_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PropertyPublic(BaseModel):
    """A listing."""

    id: str
    title: str
    city: str
    area: str | None
    address: str | None
    rooms: float | None
    size_m2: int | None
    price: int | None
    status: str
    description: str | None
    created_at: datetime
    updated_at: datetime


class MeetingPublic(BaseModel):
    """A viewing."""

    id: str
    lead_id: str
    property_id: str | None
    agent_id: str | None
    starts_at: datetime
    duration_minutes: int
    status: str
    notes: str | None
    reminder_sent_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MessageErrorPublic(BaseModel):
    """Why Meta failed a message."""

    code: int | None
    title: str | None
    detail: str | None


class StatusChangePublic(BaseModel):
    """One step of a message's status history."""

    status: str
    at: datetime


class MessagePublic(BaseModel):
    """One message of a conversation."""

    id: str
    direction: str
    type: str
    text: str | None
    template: str | None
    template_language: str | None
    template_params: list[Any] | None
    wa_message_id: str | None
    context_wa_message_id: str | None
    status: str
    status_at: datetime
    error: MessageErrorPublic | None
    created_at: datetime


class MessageDetailPublic(MessagePublic):
    """A message with its status history."""

    lead_id: str
    status_history: list[StatusChangePublic]


def message_public(record: Any, zone: tzinfo) -> dict[str, Any]:
    """A message record as API values, its history as objects."""
    values = shown(record, zone)
    values["status_history"] = [
        {"status": status, "at": at.astimezone(zone)} for status, at in record.status_history
    ]
    return values
