"""/api/v1/leads: create, read, update, list and search leads; a lead's conversation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ovenai import conversations, leads
from ovenai.lead_fields import LeadCreate, LeadFilter, LeadUpdate
from ovenai.web.api.schemas import LeadPublic, MessagePublic, PagePublic, message_public, shown
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/leads", tags=["leads"])


@router.post("", status_code=201)
async def create_lead(
    body: LeadCreate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> LeadPublic:
    """Create a lead; 409 if the phone already belongs to one."""
    record = await leads.create_lead(db, actor=actor, data=body)
    return LeadPublic(**shown(record, settings.zone))


@router.get("")
async def list_leads(
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    filters: Annotated[LeadFilter, Query()],
) -> PagePublic[LeadPublic]:
    """Leads, newest first; `q` searches names and phones, `phone` takes any common form."""
    page = await leads.list_leads(db, actor=actor, filters=filters)
    items = [LeadPublic(**shown(record, settings.zone)) for record in page.items]
    return PagePublic(items=items, next_cursor=page.next_cursor)


@router.get("/{lead_id}")
async def get_lead(lead_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep) -> LeadPublic:
    """One lead."""
    record = await leads.get_lead(db, actor=actor, lead_id=lead_id)
    return LeadPublic(**shown(record, settings.zone))


@router.patch("/{lead_id}")
async def update_lead(
    lead_id: str, body: LeadUpdate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> LeadPublic:
    """Change the given fields of a lead."""
    record = await leads.update_lead(db, actor=actor, lead_id=lead_id, changes=body)
    return LeadPublic(**shown(record, settings.zone))


@router.get("/{lead_id}/messages")
async def lead_messages(
    lead_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> list[MessagePublic]:
    """The conversation with a lead, oldest first."""
    records = await conversations.conversation(db, actor=actor, lead_id=lead_id)
    return [MessagePublic(**message_public(record, settings.zone)) for record in records]
