"""The inbox page: the leads an agent works from, the most recently active first, with its
filters as a GET form, a "next page" link and the rows alone for the live refresh
(``static/inbox.js`` asks for them every few seconds)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from ovenai import inbox
from ovenai.auth import Actor
from ovenai.errors import InvalidInput
from ovenai.inbox import InboxFilter, InboxRow
from ovenai.models import Source, Stage
from ovenai.pagination import Page
from ovenai.web import i18n
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import SessionActor
from ovenai.web.deps import DbDep
from ovenai.web.i18n import N_

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
SEARCH_HELP = N_("Type a name, or at least 4 digits of the phone number.")
SOURCES = {
    Source.WEB_FORM: N_("Web form"),
    Source.PORTAL: N_("Property portal"),
    Source.AD_REFERRAL: N_("Ad"),
    Source.WHATSAPP: N_("WhatsApp"),
    Source.IMPORT: N_("Imported"),
    Source.MANUAL: N_("Entered by hand"),
}
_FIELDS = frozenset(InboxFilter.model_fields) - {"limit"}


@router.get("/")
async def inbox_page(request: Request, db: DbDep, actor: SessionActor) -> HTMLResponse:
    """The leads the signed-in user may see, the most recently active first, filtered."""
    return page(request, "inbox.html", actor=actor, **await _view(request, db, actor))


@router.get("/inbox/rows")
async def inbox_rows(request: Request, db: DbDep, actor: SessionActor) -> HTMLResponse:
    """The rows of the inbox the same query shows, for the page's live refresh."""
    return page(request, "inbox_rows.html", actor=actor, **await _view(request, db, actor))


async def _view(request: Request, db: DbDep, actor: Actor) -> dict[str, Any]:
    """What the page shows for its query string (an empty form field means any value)."""
    given = {k: v for k, v in request.query_params.items() if k in _FIELDS and v}
    try:
        filters = InboxFilter.model_validate({**given, "limit": PAGE_SIZE})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    words = i18n.translator(request)
    search_error = None
    async with db.one_reading():  # the rows and the agents on one connection
        try:
            found = await inbox.list_inbox(db, actor=actor, filters=filters)
        except InvalidInput as exc:
            if exc.field != "q":
                raise
            found, search_error = Page[InboxRow]([], None), words.gettext(SEARCH_HELP)
        agents = await inbox.agent_choices(db, actor=actor)
    query = {k: v for k, v in given.items() if k != "cursor"}
    return {
        "rows": found.items,
        "next_cursor": found.next_cursor,
        "filters": filters,
        "q": filters.q or "",
        "sort": filters.sort,
        "query": urlencode(query),
        "others": urlencode({k: v for k, v in query.items() if k not in ("q", "sort")}),
        "agents": agents,
        "stages": list(Stage),
        "sources": {key.value: words.gettext(name) for key, name in SOURCES.items()},
        "search_error": search_error,
    }
