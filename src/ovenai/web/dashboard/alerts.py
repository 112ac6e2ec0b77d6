"""Dashboard: the admins' alerts page (/admin/alerts: open alerts with "acknowledge", and
the history); the banner every page shows admins while a critical alert is open is counted
with the session (:func:`ovenai.web.dashboard.session.header_counts`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ovenai import alerts
from ovenai.errors import NotFound
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import SessionActor, check_csrf
from ovenai.web.deps import DbDep

router = APIRouter(include_in_schema=False)
HISTORY = 100  # the page shows this many past alerts


@router.get("/admin/alerts")
async def alerts_page(request: Request, db: DbDep, actor: SessionActor) -> HTMLResponse:
    """Open alerts first, each with "acknowledge", then the history."""
    if not actor.is_admin:  # the page's existence is not revealed to agents
        raise NotFound("no such page")
    found = await alerts.list_alerts(db, actor=actor, limit=HISTORY)
    open_ = [record for record in found if record.open]
    past = [record for record in found if not record.open]
    return page(request, "admin_alerts.html", actor=actor, open_alerts=open_, past_alerts=past)


@router.post("/admin/alerts/{alert_id}/acknowledge")
async def acknowledge(
    request: Request,
    alert_id: str,
    db: DbDep,
    actor: SessionActor,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Acknowledge an alert and go back to the page."""
    check_csrf(request, csrf)
    if not actor.is_admin:
        raise NotFound("no such page")
    await alerts.acknowledge(db, actor=actor, alert_id=alert_id)
    return RedirectResponse("/admin/alerts", status_code=303)
