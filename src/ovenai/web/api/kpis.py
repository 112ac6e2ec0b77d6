"""/api/v1/kpis: the agency's key figures over a period (admins; see ovenai.kpis)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from ovenai import kpis
from ovenai.columns import utcnow
from ovenai.web.api.schemas import PublicModel, answer, public_model
from ovenai.web.deps import ActorDep, DbDep, SettingsDep

router = APIRouter(prefix="/kpis", tags=["kpis"])

TimingPublic = public_model(kpis.Timing, "TimingPublic", "Durations in seconds.")
ErrorSharePublic = public_model(
    kpis.ErrorShare, "ErrorSharePublic", "One of Meta's error codes among the failures."
)
TemplateUsagePublic = public_model(
    kpis.TemplateUsage,
    "TemplateUsagePublic",
    "A template family's share of the template messages and what became of them.",
)
AgentResponsePublic = public_model(
    kpis.AgentResponse,
    "AgentResponsePublic",
    "One agent's first responses.",
    overrides={"timing": TimingPublic},
)
SlowResponsePublic = public_model(
    kpis.SlowResponse,
    "SlowResponsePublic",
    "A lead's turn and how long until a person answered (null: not answered yet).",
)
FirstResponsesPublic = public_model(
    kpis.FirstResponses,
    "FirstResponsesPublic",
    "Agents' first responses to the turns leads started in the period.",
    overrides={
        "answered": TimingPublic,
        "by_agent": list[AgentResponsePublic],  # type: ignore[valid-type]
        "slowest": list[SlowResponsePublic],  # type: ignore[valid-type]
    },
)
KpisPublic = public_model(
    kpis.Report,
    "KpisPublic",
    "The key figures of a period (start inclusive, end exclusive); every rate's "
    "denominator is defined in the documentation (docs/architecture.md, Key figures).",
    overrides={
        "top_errors": list[ErrorSharePublic],  # type: ignore[valid-type]
        "templates": list[TemplateUsagePublic],  # type: ignore[valid-type]
        "webhook_processing": TimingPublic,
        "first_responses": FirstResponsesPublic,
        "graph_api": TimingPublic,
    },
)


@router.get("", response_model=KpisPublic)
async def key_figures(
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    start: Annotated[
        datetime | None,
        Query(description="without an offset: Israel time; default: 7 days before the end"),
    ] = None,
    end: Annotated[
        datetime | None, Query(description="without an offset: Israel time; default: now")
    ] = None,
) -> PublicModel:
    """Delivery, read and failure rates with the top error codes, per-template usage, the lead
    reply rate, agents' first-response times and webhook processing time, over a period."""
    start, end = (
        moment.replace(tzinfo=settings.zone) if moment and moment.tzinfo is None else moment
        for moment in (start, end)
    )
    end = end or utcnow()
    found = await kpis.report(db, actor=actor, start=start or end - timedelta(days=7), end=end)
    return answer(KpisPublic, found, settings.zone)
