"""Dashboard pages: sign in and out, the inbox of leads, a lead with its conversation, and
for admins the webhook bodies that failed or have failed items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ovenai import conversations, leads, signin
from ovenai.errors import AuthenticationFailed, NotFound
from ovenai.ingest import failures
from ovenai.lead_fields import LeadFilter
from ovenai.web.dashboard.session import (
    TEMPLATES,
    LoginRequired,
    SessionActor,
    check_csrf,
    csrf_token,
    start_session,
)
from ovenai.web.deps import DbDep, SettingsDep, client_address

router = APIRouter(include_in_schema=False)


def _page(request: Request, name: str, status: int = 200, **context: object) -> HTMLResponse:
    context = {"csrf": csrf_token(request), **context}
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status)


@router.get("/login")
async def login_form(request: Request) -> HTMLResponse:
    """The sign-in form."""
    return _page(request, "login.html")


@router.post("/login")
async def login(
    request: Request,
    db: DbDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Check the password (throttled), then start a session."""
    check_csrf(request, csrf)
    try:
        actor = await signin.sign_in(
            db, email=email, password=password, address=client_address(request)
        )
    except AuthenticationFailed as exc:
        return _page(request, "login.html", status=401, error=exc.message, email=email)
    start_session(request, actor)
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
    """End the session."""
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
async def inbox(
    request: Request, db: DbDep, actor: SessionActor, settings: SettingsDep, q: str | None = None
) -> HTMLResponse:
    """The leads the signed-in user may see, newest first."""
    filters = LeadFilter(q=q or None, limit=100)
    page = await leads.list_leads(db, actor=actor, filters=filters)
    return _page(
        request, "inbox.html", actor=actor, leads=page.items, q=q or "", zone=settings.zone
    )


@router.get("/leads/{lead_id}")
async def lead_page(
    request: Request, lead_id: str, db: DbDep, actor: SessionActor, settings: SettingsDep
) -> HTMLResponse:
    """One lead and the conversation with them."""
    lead = await leads.get_lead(db, actor=actor, lead_id=lead_id)
    messages = await conversations.conversation(db, actor=actor, lead_id=lead_id)
    return _page(
        request, "lead.html", actor=actor, lead=lead, messages=messages, zone=settings.zone
    )


@router.get("/admin/webhooks")
async def webhook_failures(
    request: Request, db: DbDep, actor: SessionActor, settings: SettingsDep
) -> HTMLResponse:
    """Admins: stored webhook bodies that failed or have failed items, newest first."""
    if not actor.is_admin:  # the page's existence is not revealed to agents
        raise NotFound("no such page")
    found = await failures.failed_bodies(db, actor=actor)
    return _page(request, "admin_webhooks.html", actor=actor, bodies=found, zone=settings.zone)


async def _login_required(_request: Request, _exc: Exception) -> Response:
    return RedirectResponse("/login", status_code=303)


def install(app: FastAPI) -> None:
    """Mount the dashboard's routes and its error pages on the app."""
    app.include_router(router)
    app.add_exception_handler(LoginRequired, _login_required)
