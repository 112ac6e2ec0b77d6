"""The pipeline board (/pipeline): a column per stage with the leads the user may see.

A lead moves by a form POST per card (``/pipeline/move``: works without JavaScript, and its
"previous"/"next stage" buttons are reachable by keyboard) and, with ``static/pipeline.js``,
by dragging the card to another column or by arrow keys and Enter on a focused card; the
script posts the same form and asks for JSON back. Every move goes through
:func:`ovenai.leads.update_lead`, as the lead page's stage form does, so the automation
rules' stage hooks run the same way.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ovenai import leads
from ovenai.auth import Actor
from ovenai.errors import InvalidInput
from ovenai.lead_fields import LeadUpdate
from ovenai.models import Stage
from ovenai.web import i18n
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import SessionActor, check_csrf
from ovenai.web.deps import DbDep
from ovenai.web.i18n import N_

router = APIRouter(include_in_schema=False)
PER_COLUMN = 50  # the newest leads a column shows; the inbox, filtered by stage, has all
STAGES = list(Stage)
_NOT_A_STAGE = N_("Choose a stage from the list.")


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def _board(
    request: Request,
    db: DbDep,
    actor: Actor,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    columns = await leads.by_stage(db, actor=actor, stages=STAGES, per_stage=PER_COLUMN)
    return page(
        request,
        "pipeline.html",
        status=status,
        actor=actor,
        columns=columns,
        stages=STAGES,
        errors=errors or {},
    )


@router.get("/pipeline")
async def pipeline_page(request: Request, db: DbDep, actor: SessionActor) -> HTMLResponse:
    """The board: a column per stage, in the pipeline's order."""
    return await _board(request, db, actor)


@router.post("/pipeline/move")
async def move_lead(
    request: Request,
    db: DbDep,
    actor: SessionActor,
    lead_id: Annotated[str, Form(min_length=1, max_length=40)],
    stage: Annotated[str, Form(max_length=40)] = "",
    to: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Move a lead to a stage (``to``, a card's previous/next button, else the chosen
    ``stage``): back to the board at its card, or JSON for the script."""
    check_csrf(request, csrf)
    try:
        target = Stage(to or stage)
    except ValueError:
        message = i18n.translator(request).gettext(_NOT_A_STAGE)
        if _wants_json(request):  # the API's one error shape, in the page's language
            raise InvalidInput(message, field="stage") from None
        return await _board(request, db, actor, errors={lead_id: message}, status=422)
    moved = await leads.update_lead(
        db, actor=actor, lead_id=lead_id, changes=LeadUpdate(stage=target)
    )
    if _wants_json(request):
        label = i18n.translator(request).label("stage", moved.stage)
        return JSONResponse({"lead_id": moved.id, "stage": moved.stage, "label": label})
    return RedirectResponse(f"/pipeline#lead-{moved.id}", status_code=303)
