"""Dashboard pages: sign in and out (with the language chosen before signing in), the inbox
of leads, a lead with its conversation, and for admins the webhook bodies that failed or have
failed items (accounts: .accounts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ovenai import accounts as account_service
from ovenai import signin
from ovenai.errors import AuthenticationFailed, NotFound
from ovenai.ingest import failures
from ovenai.web import i18n
from ovenai.web.dashboard import (
    accounts,
    alerts,
    automation,
    campaigns,
    composer,
    inbox,
    lead_documents,
    lead_import,
    lead_page,
    meetings_pages,
    metrics_page,
    notifications,
    pipeline,
    properties_pages,
    property_files_pages,
)
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import (
    LoginRequired,
    SessionActor,
    check_csrf,
    end_session,
    header_counts,
    known_device,
    remember_device,
    start_session,
)
from ovenai.web.deps import DbDep, client_address

router = APIRouter(include_in_schema=False)


@router.get("/login")
async def login_form(request: Request, lang: str | None = None) -> Response:
    """The sign-in form; ``?lang=en`` (or ``he``) chooses its language, in a cookie."""
    chosen = i18n.parse(lang)
    if chosen is not None:
        response = RedirectResponse("/login", status_code=303)
        i18n.remember(request, response, chosen)
        return response
    return page(request, "login.html")


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
            db,
            email=email,
            password=password,
            address=client_address(request),
            device=await known_device(request, email),
        )
    except AuthenticationFailed as exc:
        error = i18n.translator(request).error_text(exc)
        return page(request, "login.html", status=401, error=error, email=email)
    await start_session(request, actor)
    response = RedirectResponse("/", status_code=303)
    await remember_device(request, response, actor)
    assert actor.user_id is not None  # a password sign-in is always a user's
    # From now on the user's own language, here and on the sign-in page after signing out.
    language = await account_service.language_of(db, user_id=actor.user_id)
    i18n.remember(request, response, language)
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
    """End the session, on the server: a copy of the cookie opens nothing afterwards."""
    check_csrf(request, csrf)
    await end_session(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/admin/webhooks")
async def webhook_failures(request: Request, db: DbDep, actor: SessionActor) -> HTMLResponse:
    """Admins: stored webhook bodies that failed or have failed items, newest first."""
    if not actor.is_admin:  # the page's existence is not revealed to agents
        raise NotFound("no such page")
    found = await failures.failed_bodies(db, actor=actor)
    return page(request, "admin_webhooks.html", actor=actor, bodies=found)


async def _login_required(_request: Request, _exc: Exception) -> Response:
    return RedirectResponse("/login", status_code=303)


def install(app: FastAPI) -> None:
    """Mount the dashboard's routes and its error pages on the app."""
    # Everyone's header shows their unread notifications; an admin's, open critical alerts.
    banner = [Depends(header_counts)]
    app.include_router(router, dependencies=banner)
    app.include_router(accounts.router, dependencies=banner)
    app.include_router(alerts.router, dependencies=banner)
    app.include_router(automation.router, dependencies=banner)
    app.include_router(metrics_page.router, dependencies=banner)
    # Before the lead pages: /leads/import is not a lead id.
    app.include_router(lead_import.router, dependencies=banner)
    app.include_router(composer.router, dependencies=banner)
    app.include_router(lead_page.bare)  # no header: the conversation fragment, files
    app.include_router(lead_page.router, dependencies=banner)
    app.include_router(lead_documents.router, dependencies=banner)
    app.include_router(inbox.router, dependencies=banner)
    app.include_router(notifications.router, dependencies=banner)
    app.include_router(pipeline.router, dependencies=banner)
    app.include_router(meetings_pages.router, dependencies=banner)
    app.include_router(properties_pages.router, dependencies=banner)
    app.include_router(property_files_pages.router, dependencies=banner)
    app.include_router(campaigns.router, dependencies=banner)
    app.add_exception_handler(LoginRequired, _login_required)
