"""`ovenai kpis`: the agency's key figures over the last days or chosen dates."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from typing import Annotated

import typer

from ovenai import kpis
from ovenai.auth import Actor
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.columns import utcnow
from ovenai.db import Database


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def _lines(report: kpis.Report) -> list[str]:
    responses = report.first_responses
    lines = [
        f"period           {report.start.isoformat()} – {report.end.isoformat()}",
        f"messages         {report.cohort} with an outcome: {report.delivered} delivered, "
        f"{report.read} read, {report.failed} failed, {report.still_sent} still sent",
        f"delivery rate    {_percent(report.delivery_rate)}",
        f"read rate        {_percent(report.read_rate)}",
        f"failure rate     {_percent(report.failure_rate)}",
        f"reply rate       {_percent(report.reply_rate)} "
        f"({report.leads_replied} of {report.leads_written} leads)",
        f"first response   median {_seconds(responses.answered.median_s)}, "
        f"p95 {_seconds(responses.answered.p95_s)}, {responses.unanswered} not answered",
        f"webhooks         applied in mean {_seconds(report.webhook_processing.mean_s)}, "
        f"p95 {_seconds(report.webhook_processing.p95_s)}",
        f"graph api        answered in mean {_seconds(report.graph_api.mean_s)}, "
        f"p95 {_seconds(report.graph_api.p95_s)}, {report.graph_api.count} calls, "
        f"{report.graph_api_failed} failed",
    ]
    lines += [
        f"template         {t.family}: {t.sent} ({_percent(t.share)}), delivered "
        f"{_percent(t.delivered_rate)}, read {_percent(t.read_rate)}"
        for t in report.templates
    ]
    lines += [f"error            {e.code}: {e.count} ({e.title or '—'})" for e in report.top_errors]
    return lines


@app.command("kpis")
def key_figures(
    days: Annotated[int, typer.Option(min=1, max=366, help="The last N days, today included.")] = 7,
    first: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delivery, read and failure rates, templates, errors, replies and response times."""
    config = common.settings()
    zone = config.zone
    if (first is None) != (last is None):
        raise typer.BadParameter("give both --from and --to, or neither")
    if first is not None and last is not None:
        try:
            start, end = kpis.days_period(date.fromisoformat(first), date.fromisoformat(last), zone)
        except ValueError as exc:
            raise typer.BadParameter(f"days are written YYYY-MM-DD: {exc}") from None
    else:
        start, end = kpis.last_days(utcnow(), days, zone)

    async def work(db: Database) -> kpis.Report:
        return await kpis.report(db, actor=Actor.system(), start=start, end=end)

    report = common.with_db(config, work)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(report), default=str, ensure_ascii=False))
        return
    for line in _lines(report):
        typer.echo(line)
