"""Dashboard: the signed-in user's notifications (/notifications: newest first, unread ones
marked, "mark read" one by one or all at once); the unread count every page's header shows
is read with the session (:func:`ovenai.web.dashboard.session.header_counts`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ovenai import notifications
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import SessionActor, check_csrf
from ovenai.web.deps import DbDep

router = APIRouter(include_in_schema=False)
PAGE = 50  # notifications a page
CsrfField = Annotated[str | None, Form()]


@router.get("/notifications")
async def notifications_page(
    request: Request,
    db: DbDep,
    actor: SessionActor,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    """The user's notifications, newest first, a page at a time."""
    found = await notifications.list_notifications(
        db, actor=actor, query=notifications.NotificationQuery(cursor=cursor, limit=PAGE)
    )
    return page(
        request,
        "notifications.html",
        actor=actor,
        notifications=found.items,
        next_cursor=found.next_cursor,
    )


@router.post("/notifications/read")
async def read_all(
    request: Request, db: DbDep, actor: SessionActor, csrf: CsrfField = None
) -> Response:
    """Mark every notification read, and go back to the list."""
    check_csrf(request, csrf)
    await notifications.mark_read(db, actor=actor)
    return RedirectResponse("/notifications", status_code=303)


@router.post("/notifications/{notification_id}/read")
async def read_one(
    request: Request, notification_id: str, db: DbDep, actor: SessionActor, csrf: CsrfField = None
) -> Response:
    """Mark one notification read, and go back to the list."""
    check_csrf(request, csrf)
    await notifications.mark_read(db, actor=actor, notification_id=notification_id)
    return RedirectResponse("/notifications", status_code=303)
