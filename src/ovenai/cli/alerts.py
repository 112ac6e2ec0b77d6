"""`ovenai alerts ...`: list alerts, acknowledge one, send a test notification."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from ovenai import alerts, notifiers
from ovenai.auth import Actor
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.db import Database

alerts_app = typer.Typer(help="Alerts: list, acknowledge, test the notifiers.")
app.add_typer(alerts_app, name="alerts")


def _line(record: alerts.AlertRecord) -> str:
    state = "open" if record.open else f"resolved {record.resolved_at:%Y-%m-%dT%H:%M:%S%z}"
    seen = "  acknowledged" if record.acknowledged_at else ""
    when = record.at.isoformat(timespec="seconds")
    return f"{when}  {record.id}  {record.severity}  {record.kind}  {state}{seen}  {record.message}"


@alerts_app.command("list")
def list_alerts(
    all_: Annotated[
        bool, typer.Option("--all", help="The history too, not only open ones.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many.")] = 200,
) -> None:
    """List alerts newest first: time, id, severity, kind, state, message."""

    async def work(db: Database) -> list[alerts.AlertRecord]:
        return await alerts.list_alerts(db, actor=Actor.system(), open_only=not all_, limit=limit)

    found = common.with_db(common.settings(), work)
    for record in found:
        typer.echo(_line(record))
    if not found:
        typer.echo("no open alerts" if not all_ else "no alerts")


@alerts_app.command("ack")
def ack(alert_id: str) -> None:
    """Acknowledge an alert (it stays open until its cause ends)."""

    async def work(db: Database) -> alerts.AlertRecord:
        return await alerts.acknowledge(db, actor=Actor.system(), alert_id=alert_id)

    record = common.with_db(common.settings(), work)
    typer.echo(f"acknowledged {record.id} ({record.kind})")


@alerts_app.command("test")
def test() -> None:
    """Send a test notification through each configured notifier (e-mail, Slack)."""
    results = asyncio.run(notifiers.send_test(common.settings()))
    if not results:
        typer.echo(
            "no notifier is configured (OVENAI_SMTP_HOST with OVENAI_ALERT_EMAILS, or "
            "OVENAI_SLACK_WEBHOOK_URL)"
        )
        raise typer.Exit(1)
    for channel, error in results.items():
        typer.echo(f"{channel}: {'sent' if error is None else 'failed: ' + error}")
    if any(error is not None for error in results.values()):
        raise typer.Exit(1)
