"""Dashboard: the admins' key figures (/admin/metrics) over the last days or chosen dates,
with a chart of each day's messages, and the weekly report (/admin/reports/weekly)
(ovenai.kpis defines every figure, ovenai.weekly_report the week)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from ovenai import kpis, weekly_report
from ovenai.columns import utcnow
from ovenai.errors import InvalidInput, NotFound
from ovenai.web import i18n
from ovenai.web.dashboard.pages import page
from ovenai.web.dashboard.session import SessionActor
from ovenai.web.deps import DbDep, SettingsDep

router = APIRouter(include_in_schema=False)
CHOICES = (7, 30, 90)  # the "last N days" the page offers


@router.get("/admin/metrics")
async def metrics_page(
    request: Request,
    db: DbDep,
    actor: SessionActor,
    settings: SettingsDep,
    days: Annotated[int, Query(ge=1, le=366)] = 7,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
) -> HTMLResponse:
    """The figures of the last ``days`` days, or of the days ``from``–``to`` when given."""
    if not actor.is_admin:  # the page's existence is not revealed to agents
        raise NotFound("no such page")
    zone = settings.zone
    chosen = first is not None and last is not None
    if first is not None and last is not None:
        start, end = kpis.days_period(first, last, zone)
    else:
        start, end = kpis.last_days(utcnow(), days, zone)
    try:
        report = await kpis.report(db, actor=actor, start=start, end=end)
        daily = await kpis.daily(db, actor=actor, start=start, end=end, zone=zone)
    except InvalidInput as exc:
        error = i18n.translator(request).error_text(exc)
        return page(
            request,
            "admin_metrics.html",
            status=422,
            actor=actor,
            error=error,
            choices=CHOICES,
            days=days,
            first=first,
            last=last,
            report=None,
        )
    peak = max((day.cohort for day in daily), default=0)
    return page(
        request,
        "admin_metrics.html",
        actor=actor,
        error=None,
        choices=CHOICES,
        days=None if chosen else days,
        first=start.astimezone(zone).date(),
        last=(end - timedelta(microseconds=1)).astimezone(zone).date(),
        report=report,
        daily=daily,
        peak=peak,
    )


@router.get("/admin/reports/weekly")
async def weekly_page(
    request: Request,
    db: DbDep,
    actor: SessionActor,
    settings: SettingsDep,
    week: Annotated[date | None, Query(description="any day of the week")] = None,
) -> HTMLResponse:
    """Last week's key figures against the week before (any week with ``?week=``); the page
    of the e-mail the worker sends on Sunday at 08:00."""
    if not actor.is_admin:
        raise NotFound("no such page")
    zone = settings.zone
    first_day = (
        weekly_report.week_of(week) if week else weekly_report.last_full_week(utcnow(), zone)
    )
    report = await weekly_report.build(db, actor=actor, first_day=first_day, zone=zone)
    return page(
        request,
        "admin_weekly.html",
        actor=actor,
        weekly=report,
        last_day=first_day + timedelta(days=6),
        previous=first_day - timedelta(days=7),
        following=first_day + timedelta(days=7),
        daily=report.days,
        peak=max((day.cohort for day in report.days), default=0),
    )
