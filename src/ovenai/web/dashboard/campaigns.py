"""The campaigns pages (admins): /campaigns lists them; /campaigns/new?property_id=… previews
a listing's campaign (who it reaches and why, who it leaves out and why) with the button
that starts it; /campaigns/{id} shows its report (each recipient's outcome and the totals)
with the pause, resume and cancel buttons. Agents are told there is no such page, as for the
other admin pages. The service is :mod:`ovenai.campaigns`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ovenai import campaigns, properties
from ovenai.auth import Actor
from ovenai.errors import NotFound
from ovenai.matching import Check
from ovenai.models import CampaignStatus
from ovenai.settings import Settings
from ovenai.web import i18n
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.properties_pages import CRITERIA
from ovenai.web.dashboard.session import SessionActor, check_csrf
from ovenai.web.deps import DbDep, SettingsDep
from ovenai.web.i18n import N_, Translator

router = APIRouter(include_in_schema=False)

STATUSES = {
    CampaignStatus.DRAFT: N_("Draft"),
    CampaignStatus.RUNNING: N_("Running"),
    CampaignStatus.PAUSED: N_("Paused"),
    CampaignStatus.CANCELLED: N_("Cancelled"),
    CampaignStatus.DONE: N_("Done"),
}
OUTCOMES = {
    "excluded": N_("Excluded"),
    "cancelled": N_("Cancelled"),
    "queued": N_("Queued"),
    "sent": N_("Sent"),
    "delivered": N_("Delivered"),
    "read": N_("Read"),
    "failed": N_("Failed"),
}
REASONS = {
    campaigns.Reason.DO_NOT_CONTACT: N_("On the do-not-contact list"),
    campaigns.Reason.OPTED_OUT: N_("Opted out of marketing"),
    campaigns.Reason.NO_BASIS: N_("No lawful basis for marketing recorded"),
    campaigns.Reason.NO_ADDRESS: N_("No phone number or WhatsApp id"),
    campaigns.Reason.NO_LANGUAGE: N_("No approved template in the lead's language"),
    campaigns.Reason.ALREADY_MESSAGED: N_("Already sent this listing by an earlier campaign"),
    campaigns.Reason.NO_NAME: N_("No name for the greeting"),
    campaigns.Reason.ERASED: N_("Erased meanwhile"),
    "cancelled": N_("Cancelled with the campaign before it was sent"),
}
PROBLEMS = {
    "unavailable": N_("Only an available listing can be sent in a campaign."),
    "incomplete": N_("The template needs the listing's rooms, size and price: fill them in first."),
}
NOT_ALLOWED = N_("The campaign's status does not allow that.")
ACTIONS = ("pause", "resume", "cancel")
LINES = 500  # recipients listed on the page (the totals count them all)


def _admin(actor: Actor) -> None:
    if not actor.is_admin:  # the pages' existence is not revealed to agents
        raise NotFound("no such page")


def _waba(settings: Settings) -> str:
    return settings.whatsapp_business_account_id or ""


def _why(words: Translator, check: Check) -> str:
    return words.gettext(
        CRITERIA[check.criterion], wanted=check.wanted or "", offered=check.offered or ""
    )


def _reason(words: Translator, reason: str | None) -> str:
    """Our reason translated; Meta's (a failure's code and title) as Meta wrote it."""
    if reason is None:
        return ""
    known = REASONS.get(reason)
    return words.gettext(known) if known else reason


def _labels(words: Translator, table: dict[Any, str]) -> dict[str, str]:
    return {str(key): words.gettext(text) for key, text in table.items()}


@router.get("/campaigns")
async def campaigns_page(request: Request, db: DbDep, actor: SessionActor) -> HTMLResponse:
    """Every campaign, newest first."""
    _admin(actor)
    found = await campaigns.list_campaigns(db, actor=actor)
    words = i18n.translator(request)
    return page(
        request, "campaigns.html", actor=actor, found=found, statuses=_labels(words, STATUSES)
    )


@router.get("/campaigns/new")
async def preview_page(
    request: Request, db: DbDep, actor: SessionActor, settings: SettingsDep
) -> HTMLResponse:
    """A listing's campaign previewed, with the button that starts it."""
    _admin(actor)
    property_id = request.query_params.get("property_id", "")[:36]
    prop = await properties.get_property(db, property_id=property_id)
    found = await campaigns.preview(
        db, actor=actor, property_id=property_id, waba_id=_waba(settings)
    )
    words = i18n.translator(request)
    problem = campaigns.listing_problem(prop)
    return page(
        request,
        "campaign_preview.html",
        actor=actor,
        prop=prop,
        found=found,
        problem=words.gettext(PROBLEMS[problem]) if problem else None,
        shown=LINES,
        why={
            lead.lead_id: [_why(words, c) for c in lead.checks] for lead in found.recipients[:LINES]
        },
        reasons={lead.lead_id: _reason(words, lead.reason) for lead in found.excluded[:LINES]},
    )


@router.post("/campaigns")
async def start_campaign(
    request: Request, db: DbDep, actor: SessionActor, settings: SettingsDep
) -> Response:
    """Create and start a listing's campaign; its report page afterwards."""
    _admin(actor)
    posted = await request.form()
    fields = {name: value for name, value in posted.items() if isinstance(value, str)}
    check_csrf(request, fields.get("csrf"))
    made = await campaigns.launch(
        db, actor=actor, property_id=fields.get("property_id", "")[:36], waba_id=_waba(settings)
    )
    return RedirectResponse(f"/campaigns/{made.id}", status_code=303)


async def _report_page(
    request: Request, db: DbDep, actor: Actor, campaign_id: str, *, error: str | None = None
) -> HTMLResponse:
    found = await campaigns.report(db, actor=actor, campaign_id=campaign_id, limit=LINES)
    words = i18n.translator(request)
    return page(
        request,
        "campaign.html",
        status=409 if error else 200,
        actor=actor,
        report=found,
        error=words.gettext(error) if error else None,
        statuses=_labels(words, STATUSES),
        outcomes=_labels(words, OUTCOMES),
        reasons={line.lead_id: _reason(words, line.reason) for line in found.lines},
    )


@router.get("/campaigns/{campaign_id}")
async def campaign_page(
    request: Request, db: DbDep, actor: SessionActor, campaign_id: str
) -> HTMLResponse:
    """A campaign's report with its buttons."""
    _admin(actor)
    return await _report_page(request, db, actor, campaign_id)


@router.post("/campaigns/{campaign_id}/{action}")
async def change_campaign(
    request: Request, db: DbDep, actor: SessionActor, campaign_id: str, action: str
) -> Response:
    """Pause, resume or cancel a campaign; its page afterwards (with why, if refused)."""
    _admin(actor)
    if action not in ACTIONS:
        raise NotFound("no such page")
    posted = await request.form()
    token = posted.get("csrf")
    check_csrf(request, token if isinstance(token, str) else None)
    change = {"pause": campaigns.pause, "resume": campaigns.resume, "cancel": campaigns.cancel}
    try:
        await change[action](db, actor=actor, campaign_id=campaign_id)
    except campaigns.CampaignNotAllowed:
        return await _report_page(request, db, actor, campaign_id, error=NOT_ALLOWED)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
