"""/api/v1/leads: create, read, update, list and search leads; a lead's conversation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ovenai import consent, conversations, engagement, lead_consent, leads
from ovenai.lead_fields import LeadCreate, LeadFilter, LeadUpdate
from ovenai.pagination import PageQuery
from ovenai.quiet_hours import QuietHours
from ovenai.web.api.schemas import (
    ConsentPublic,
    LeadPublic,
    LeadSavedPublic,
    MessagePublic,
    PagePublic,
    PublicModel,
    ScorePublic,
    answer,
    list_model,
    page_answer,
    page_model,
    saved_lead,
)
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/leads", tags=["leads"])


@router.post("", status_code=201, response_model=LeadSavedPublic)
async def create_lead(
    body: LeadCreate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> LeadSavedPublic:
    """Create a lead; 409 if another lead holds the phone (with its `lead_id` only when the
    caller may see that lead). A landline or VoIP phone is kept, with a warning that
    WhatsApp may not reach it (`warnings`)."""
    record = await leads.create_lead(db, actor=actor, data=body)
    return saved_lead(record, settings.zone)


@router.get("", response_model=page_model(LeadPublic))
async def list_leads(
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    filters: Annotated[LeadFilter, Query()],
) -> PagePublic[PublicModel]:
    """Leads, newest first (`sort=score`: highest engagement score first); `q` searches
    names and phones, `phone` takes any common form; `min_score`/`max_score` bound the score."""
    page = await leads.list_leads(db, actor=actor, filters=filters)
    return page_answer(LeadPublic, page, settings.zone)


@router.get("/{lead_id}", response_model=LeadPublic)
async def get_lead(lead_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep) -> PublicModel:
    """One lead."""
    record = await leads.get_lead(db, actor=actor, lead_id=lead_id)
    return answer(LeadPublic, record, settings.zone)


@router.patch("/{lead_id}", response_model=LeadSavedPublic)
async def update_lead(
    lead_id: str, body: LeadUpdate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> LeadSavedPublic:
    """Change the given fields of a lead; 409 for a phone as on create, and `warnings` as
    on create."""
    record = await leads.update_lead(
        db, actor=actor, lead_id=lead_id, changes=body, consent_source=consent.Source.API
    )
    return saved_lead(record, settings.zone)


@router.get("/{lead_id}/messages", response_model=list_model(MessagePublic))
async def lead_messages(
    lead_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> list[PublicModel]:
    """The conversation with a lead, oldest first (`held`: a marketing message waiting out
    a quiet time, when it will leave and why)."""
    quiet = QuietHours.from_settings(settings)
    records = await conversations.conversation(db, actor=actor, lead_id=lead_id, quiet=quiet)
    return [answer(MessagePublic, record, settings.zone) for record in records]


@router.get("/{lead_id}/score", response_model=ScorePublic)
async def lead_score(
    lead_id: str,
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    page: Annotated[PageQuery, Query()],
) -> PublicModel:
    """A lead's engagement score and why: its changes, newest first, in pages."""
    history = await engagement.history(db, actor=actor, lead_id=lead_id, page=page)
    return answer(ScorePublic, history, settings.zone)


@router.get("/{lead_id}/consent", response_model=ConsentPublic)
async def lead_consent_state(
    lead_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """A lead's marketing consent: opted out or not, the lawful basis for marketing, and the
    ledger of every change with its source and the lead's words (oldest first)."""
    state = await lead_consent.show(db, actor=actor, lead_id=lead_id)
    return answer(ConsentPublic, state, settings.zone)


@router.post("/{lead_id}/consent", response_model=ConsentPublic)
async def change_lead_consent(
    lead_id: str,
    body: lead_consent.ConsentChange,
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
) -> PublicModel:
    """Record an opt-in (with the lead's words), an opt-out, or the lawful basis
    (`opt_in` | `inquiry_30a` with the words the lead was shown; null clears it)."""
    state = await lead_consent.change(
        db, actor=actor, lead_id=lead_id, request=body, source=consent.Source.API
    )
    return answer(ConsentPublic, state, settings.zone)
