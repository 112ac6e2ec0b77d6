"""/api/v1/campaigns: property-match campaigns (admins; see ovenai.campaigns)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, StringConstraints

from ovenai import campaigns
from ovenai.campaigns import (
    CampaignRecord,
    CampaignReport,
    Preview,
    PreviewLead,
    ReportLine,
    ReportTotals,
)
from ovenai.web.api.schemas import CheckPublic, PublicModel, answer, list_model, public_model
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

CampaignPublic = public_model(CampaignRecord, "CampaignPublic", "A property-match campaign.")
PreviewLeadPublic = public_model(
    PreviewLead,
    "CampaignPreviewLeadPublic",
    "A lead a listing suits: why (the criteria that hold), and our reason if it is excluded.",
    overrides={"checks": list_model(CheckPublic)},
)
PreviewPublic = public_model(
    Preview,
    "CampaignPreviewPublic",
    "Who a listing's campaign would reach, and who it would not and why.",
    overrides={
        "recipients": list_model(PreviewLeadPublic),
        "excluded": list_model(PreviewLeadPublic),
    },
)
ReportLinePublic = public_model(
    ReportLine, "CampaignReportLinePublic", "One recipient of a campaign and its outcome."
)
ReportTotalsPublic = public_model(
    ReportTotals, "CampaignTotalsPublic", "A campaign's counts; they add up to the recipients."
)
ReportPublic = public_model(
    CampaignReport,
    "CampaignReportPublic",
    "A campaign, its totals and each recipient's outcome.",
    overrides={
        "campaign": CampaignPublic,
        "totals": ReportTotalsPublic,
        "lines": list_model(ReportLinePublic),
    },
)

PropertyId = Annotated[str, StringConstraints(min_length=1, max_length=36)]


class CampaignCreate(BaseModel):
    """A listing's campaign: a draft, or started at once with ``start``."""

    model_config = ConfigDict(extra="forbid")

    property_id: PropertyId
    start: bool = False


@router.get("/preview", response_model=PreviewPublic)
async def preview_campaign(
    property_id: Annotated[PropertyId, Query()], db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Who a campaign of the listing would reach (and why), who not (and why); stores nothing."""
    found = await campaigns.preview(
        db,
        actor=actor,
        property_id=property_id,
        waba_id=settings.whatsapp_business_account_id or "",
    )
    return answer(PreviewPublic, found, settings.zone)


@router.post("", status_code=201, response_model=CampaignPublic)
async def create_campaign(
    body: CampaignCreate, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Create a listing's campaign (a draft, or started when ``start`` is true)."""
    if body.start:
        made = await campaigns.launch(
            db,
            actor=actor,
            property_id=body.property_id,
            waba_id=settings.whatsapp_business_account_id or "",
        )
    else:
        made = await campaigns.create(db, actor=actor, property_id=body.property_id)
    return answer(CampaignPublic, made, settings.zone)


@router.get("", response_model=list_model(CampaignPublic))
async def list_campaigns(
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    property_id: Annotated[PropertyId | None, Query()] = None,
) -> list[PublicModel]:
    """Campaigns, newest first (a listing's only, with ``property_id``)."""
    found = await campaigns.list_campaigns(db, actor=actor, property_id=property_id)
    return [answer(CampaignPublic, campaign, settings.zone) for campaign in found]


@router.get("/{campaign_id}", response_model=CampaignPublic)
async def get_campaign(
    campaign_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """One campaign."""
    found = await campaigns.get(db, actor=actor, campaign_id=campaign_id)
    return answer(CampaignPublic, found, settings.zone)


@router.get("/{campaign_id}/report", response_model=ReportPublic)
async def campaign_report(
    campaign_id: str,
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> PublicModel:
    """Each recipient's outcome (queued, sent, delivered, read, failed with Meta's reason,
    excluded with ours, cancelled), the first ``limit`` only when given, and the totals
    over all of them."""
    found = await campaigns.report(db, actor=actor, campaign_id=campaign_id, limit=limit)
    return answer(ReportPublic, found, settings.zone)


@router.post("/{campaign_id}/start", response_model=CampaignPublic)
async def start_campaign(
    campaign_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Select the matching leads and queue the listing to each that may have it."""
    found = await campaigns.start(
        db,
        actor=actor,
        campaign_id=campaign_id,
        waba_id=settings.whatsapp_business_account_id or "",
    )
    return answer(CampaignPublic, found, settings.zone)


@router.post("/{campaign_id}/pause", response_model=CampaignPublic)
async def pause_campaign(
    campaign_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Hold the campaign's unsent messages."""
    found = await campaigns.pause(db, actor=actor, campaign_id=campaign_id)
    return answer(CampaignPublic, found, settings.zone)


@router.post("/{campaign_id}/resume", response_model=CampaignPublic)
async def resume_campaign(
    campaign_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Let a paused campaign's messages leave again."""
    found = await campaigns.resume(db, actor=actor, campaign_id=campaign_id)
    return answer(CampaignPublic, found, settings.zone)


@router.post("/{campaign_id}/cancel", response_model=CampaignPublic)
async def cancel_campaign(
    campaign_id: str, db: DbDep, actor: ActorDep, settings: SettingsDep
) -> PublicModel:
    """Cancel the campaign: its unsent messages fail visibly as cancelled."""
    found = await campaigns.cancel(db, actor=actor, campaign_id=campaign_id)
    return answer(CampaignPublic, found, settings.zone)
