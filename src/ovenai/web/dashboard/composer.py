"""Dashboard: the lead page (/leads/{id}) with its composer and its in-place edits.

The composer (:mod:`ovenai.composer`) offers free text while the lead's 24-hour window is
open and a template picker always: a family chosen by a GET form (no JavaScript), its
parameters pre-filled and editable, "preview" (a POST showing the page again with the exact
text) and "send". Each form carries an Idempotency-Key made when the page was drawn, so a
double click queues one message. A refusal shows the page again with the reason beside the
form (409/422) and what the agent typed; a send goes back to the lead page, where the queued
message shows. Stage and agent are changed by a small form each (:func:`ovenai.leads.update_lead`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from ovenai import accounts, bubbles, composer, engagement, inbox, lead_consent, leads
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.errors import InvalidInput, OvenAIError, PermissionDenied
from ovenai.lead_fields import LeadUpdate
from ovenai.models import Stage
from ovenai.outbox import queue
from ovenai.outbox.rules import (
    LeadOptedOut,
    LeadWithoutBasis,
    NoWhatsAppIdentity,
    OutsideServiceWindow,
)
from ovenai.pagination import PageQuery
from ovenai.quiet_hours import QuietHours
from ovenai.templates import InvalidTemplateParameter, TemplateNotApproved, TemplateNotFound
from ovenai.web import i18n
from ovenai.web.dashboard import lead_view
from ovenai.web.dashboard.automation import lead_automation
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import SessionActor, check_csrf
from ovenai.web.deps import DbDep, get_settings
from ovenai.web.i18n import N_, Translator

router = APIRouter(include_in_schema=False)
SCORE_CHANGES = PageQuery(limit=50)  # the newest changes of a score a lead page explains
CsrfField = Annotated[str | None, Form()]
KeyField = Annotated[str, Form(min_length=1, max_length=100)]
ParamsField = Annotated[list[str], Form(max_length=20)]
FamilyField = Annotated[str, Form(min_length=1, max_length=512)]

# The seed families in words; a family of the agency's own is shown by its name.
FAMILIES = {
    "welcome_new_lead": N_("Welcome a new lead"),
    "property_details": N_("Property details"),
    "meeting_reminder": N_("Viewing reminder"),
    "followup_interest": N_("Follow-up after a viewing"),
    "document_request": N_("Documents request"),
}
CATEGORIES = {
    "MARKETING": N_("Marketing"),
    "UTILITY": N_("Utility"),
    "AUTHENTICATION": N_("Authentication"),
}
# Why a send was refused, by the error's class (the domain's sentences carry values).
_WINDOW_CLOSED = N_(
    "The 24-hour window is closed: free text cannot be sent. Send an approved template instead."
)
_OPTED_OUT = N_(
    "The lead asked to stop receiving marketing messages, and this is a marketing template."
    " A utility template may still be sent."
)
_NO_BASIS = N_(
    "The lead has no recorded basis for marketing (no opt-in, no inquiry with the refusal"
    " notice), and this is a marketing template. A utility template may still be sent."
)
_NOT_APPROVED = N_("WhatsApp has not approved this template (its status: %(status)s).")
_NO_TEMPLATE = N_("There is no such template for this business account.")
_NO_IDENTITY = N_("The lead has no phone number or WhatsApp id to send to.")
_EMPTY_PARAMETER = N_("Fill in parameter %(parameter)s.")
_BAD_PARAMETER = N_(
    "Parameter %(parameter)s may not hold a new line, a tab or more than four spaces in a"
    " row, and the whole text must stay within WhatsApp's length."
)
_ONLY_YOURSELF = N_("Agents may assign a lead only to themselves.")
_NOT_A_STAGE = N_("Choose a stage from the list.")
_NOT_A_USER = N_("Choose an agent from the list.")


@dataclass
class ComposerForm:
    """What the agent typed, kept when the page is shown again, and the errors beside it."""

    key: str = field(default_factory=lambda: f"dashboard-{secrets.token_urlsafe(24)}")
    text: str = ""
    family: str | None = None
    params: list[str] | None = None
    preview: str | None = None
    errors: dict[str, str] = field(default_factory=dict)


def reason(words: Translator, exc: OvenAIError) -> str:
    """Why a send or an edit was refused, in the page's language."""
    if isinstance(exc, OutsideServiceWindow):
        return words.gettext(_WINDOW_CLOSED)
    if isinstance(exc, LeadOptedOut):
        return words.gettext(_OPTED_OUT)
    if isinstance(exc, LeadWithoutBasis):
        return words.gettext(_NO_BASIS)
    if isinstance(exc, TemplateNotApproved):
        return words.gettext(_NOT_APPROVED, status=exc.status)
    if isinstance(exc, TemplateNotFound):
        return words.gettext(_NO_TEMPLATE)
    if isinstance(exc, NoWhatsAppIdentity):
        return words.gettext(_NO_IDENTITY)
    if isinstance(exc, InvalidTemplateParameter):
        message = _EMPTY_PARAMETER if exc.problem == "is empty" else _BAD_PARAMETER
        return words.gettext(message, parameter=exc.parameter)
    if isinstance(exc, PermissionDenied):
        return words.gettext(_ONLY_YOURSELF)
    return words.error_text(exc)


def _waba(request: Request) -> str:
    return get_settings(request).whatsapp_business_account_id or ""


def time_left(words: Translator, options: composer.Options) -> str:
    """How long the window stays open, as "Window open, 3 h 20 min left" (minutes down)."""
    assert options.window_closes_at is not None
    seconds = max(0, int((options.window_closes_at - utcnow()).total_seconds()))
    hours, minutes = seconds // 3600, seconds % 3600 // 60
    return words.gettext(
        "Window open, %(hours)d h %(minutes)d min left", hours=hours, minutes=minutes
    )


async def _agents(db: DbDep, actor: Actor) -> list[tuple[str, str]]:
    """Whom the actor may assign: every active user for admins, themselves for agents."""
    if not actor.is_admin:
        return [(actor.user_id, actor.email)] if actor.user_id else []
    return await accounts.active_emails(db, actor=actor)


async def lead_page(
    request: Request,
    db: DbDep,
    actor: Actor,
    lead_id: str,
    *,
    form: ComposerForm | None = None,
    edit_errors: dict[str, str] | None = None,
    edit_values: dict[str, str] | None = None,
    documents_error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The lead, the composer, the in-place edits, the score's reasons, the conversation:
    read in one transaction on one connection (:meth:`ovenai.db.Database.one_transaction`),
    the seen mark and the audit entries committed with it."""
    form = form or ComposerForm()
    settings = get_settings(request)
    async with db.one_transaction():
        lead = await leads.get_lead(db, actor=actor, lead_id=lead_id)
        await inbox.mark_seen(db, actor=actor, lead_id=lead_id)  # its messages are read now
        score = await engagement.history(db, actor=actor, lead_id=lead_id, page=SCORE_CHANGES)
        quiet = QuietHours.from_settings(settings)
        chat = await bubbles.conversation(db, actor=actor, lead_id=lead_id, quiet=quiet)
        shown = await lead_view.page_context(request, db, actor, lead, chat)
        options = await composer.options(
            db,
            actor=actor,
            lead_id=lead_id,
            waba_id=_waba(request),
            zone=settings.zone,
            family=form.family,
            params=form.params,
        )
        agents = await _agents(db, actor)
        automation = await lead_automation(request, db, actor, lead_id)
        consent = await lead_consent.show(db, actor=actor, lead_id=lead_id, audited=False)
    words = i18n.translator(request)
    return page(
        request,
        "lead.html",
        status=status,
        actor=actor,
        lead=lead,
        score=score,
        **shown,
        composer=options,
        form=form,
        window=time_left(words, options) if options.window_open else None,
        family_names={key: words.gettext(value) for key, value in FAMILIES.items()},
        categories={key: words.gettext(value) for key, value in CATEGORIES.items()},
        stages=list(Stage),
        agents=agents,
        agent_email=dict(agents).get(lead.assigned_agent_id or ""),
        edit_errors=edit_errors or {},
        edit_values=edit_values or {},
        documents_error=documents_error,
        lead_automation=automation,
        lead_consent=consent,
    )


@router.get("/leads/{lead_id}")
async def show_lead(
    request: Request,
    lead_id: str,
    db: DbDep,
    actor: SessionActor,
    family: Annotated[str | None, Query(max_length=512)] = None,
) -> HTMLResponse:
    """One lead; ``?family=`` chooses the composer's template."""
    return await lead_page(request, db, actor, lead_id, form=ComposerForm(family=family))


@router.post("/leads/{lead_id}/text")
async def send_text(
    request: Request,
    lead_id: str,
    db: DbDep,
    actor: SessionActor,
    key: KeyField,
    text: Annotated[str, Form(max_length=4096)] = "",
    csrf: CsrfField = None,
) -> Response:
    """Free text, while the window is open; the page again with the reason otherwise."""
    check_csrf(request, csrf)
    form = ComposerForm(key=key, text=text)
    words = i18n.translator(request)
    if not text.strip():
        form.errors["text"] = words.gettext("Write the message first.")
        return await lead_page(request, db, actor, lead_id, form=form, status=422)
    try:
        await composer.send(
            db,
            actor=actor,
            lead_id=lead_id,
            request=queue.OutboundRequest(text=text),
            waba_id=_waba(request),
            zone=get_settings(request).zone,
            idempotency_key=key,
        )
    except (OutsideServiceWindow, NoWhatsAppIdentity) as exc:
        form.errors["text"] = reason(words, exc)
        return await lead_page(request, db, actor, lead_id, form=form, status=exc.http_status)
    return RedirectResponse(f"/leads/{lead_id}", status_code=303)


@router.post("/leads/{lead_id}/file")
async def send_file(
    request: Request,
    lead_id: str,
    db: DbDep,
    actor: SessionActor,
    key: KeyField,
    file_id: Annotated[str, Form(max_length=64)] = "",
    caption: Annotated[str, Form(max_length=1024)] = "",
    csrf: CsrfField = None,
) -> Response:
    """A listing's photo or brochure, while the window is open; the page again with the
    reason otherwise."""
    check_csrf(request, csrf)
    form = ComposerForm(key=key)
    words = i18n.translator(request)
    if not file_id:
        form.errors["file"] = words.gettext("Choose a file first.")
        return await lead_page(request, db, actor, lead_id, form=form, status=422)
    try:
        await composer.send(
            db,
            actor=actor,
            lead_id=lead_id,
            request=queue.OutboundRequest(file_id=file_id, caption=caption.strip() or None),
            waba_id=_waba(request),
            zone=get_settings(request).zone,
            idempotency_key=key,
        )
    except (OutsideServiceWindow, NoWhatsAppIdentity, InvalidInput) as exc:
        form.errors["file"] = reason(words, exc)
        return await lead_page(request, db, actor, lead_id, form=form, status=exc.http_status)
    return RedirectResponse(f"/leads/{lead_id}", status_code=303)


_TEMPLATE_REFUSALS = (
    LeadOptedOut,
    LeadWithoutBasis,
    NoWhatsAppIdentity,
    TemplateNotApproved,
    TemplateNotFound,
    InvalidTemplateParameter,
)


@router.post("/leads/{lead_id}/template")
async def send_template(
    request: Request,
    lead_id: str,
    db: DbDep,
    actor: SessionActor,
    key: KeyField,
    family: FamilyField,
    params: ParamsField | None = None,
    action: Annotated[str, Form(max_length=10)] = "preview",
    csrf: CsrfField = None,
) -> Response:
    """Preview (the page again with the exact text) or send (queued; back to the page)."""
    check_csrf(request, csrf)
    values = params or []
    form = ComposerForm(key=key, family=family, params=values)
    settings = get_settings(request)
    try:
        if action == "send":
            request_ = queue.OutboundRequest(template=family, params=values)
            await composer.send(
                db,
                actor=actor,
                lead_id=lead_id,
                request=request_,
                waba_id=_waba(request),
                zone=settings.zone,
                idempotency_key=key,
                quiet=QuietHours.from_settings(settings),
            )
            return RedirectResponse(f"/leads/{lead_id}", status_code=303)
        form.preview = await composer.preview(
            db,
            actor=actor,
            lead_id=lead_id,
            waba_id=_waba(request),
            zone=settings.zone,
            family=family,
            params=values,
        )
    except _TEMPLATE_REFUSALS as exc:
        form.errors["template"] = reason(i18n.translator(request), exc)
        return await lead_page(request, db, actor, lead_id, form=form, status=exc.http_status)
    return await lead_page(request, db, actor, lead_id, form=form)


@router.post("/leads/{lead_id}/stage")
async def change_stage(
    request: Request,
    lead_id: str,
    db: DbDep,
    actor: SessionActor,
    stage: Annotated[str, Form(max_length=40)],
    csrf: CsrfField = None,
) -> Response:
    """Move the lead to another stage."""
    check_csrf(request, csrf)
    try:
        changes = LeadUpdate(stage=Stage(stage))
    except ValueError:
        errors = {"stage": i18n.translator(request).gettext(_NOT_A_STAGE)}
        return await lead_page(request, db, actor, lead_id, edit_errors=errors, status=422)
    await leads.update_lead(db, actor=actor, lead_id=lead_id, changes=changes)
    return RedirectResponse(f"/leads/{lead_id}", status_code=303)


@router.post("/leads/{lead_id}/agent")
async def change_agent(
    request: Request,
    lead_id: str,
    db: DbDep,
    actor: SessionActor,
    agent: Annotated[str, Form(max_length=40)] = "",
    csrf: CsrfField = None,
) -> Response:
    """Assign the lead (an empty choice: to nobody); agents only to themselves."""
    check_csrf(request, csrf)
    words = i18n.translator(request)
    try:
        changes = LeadUpdate(assigned_agent_id=agent or None)
        await leads.update_lead(db, actor=actor, lead_id=lead_id, changes=changes)
    except (ValidationError, InvalidInput):  # not an id, or not an active user's
        errors = {"agent": words.gettext(_NOT_A_USER)}
        return await lead_page(request, db, actor, lead_id, edit_errors=errors, status=422)
    except PermissionDenied as exc:
        errors = {"agent": reason(words, exc)}
        return await lead_page(request, db, actor, lead_id, edit_errors=errors, status=403)
    return RedirectResponse(f"/leads/{lead_id}", status_code=303)
