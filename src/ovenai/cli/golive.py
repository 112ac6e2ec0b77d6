"""`ovenai golive ...`: the cut-over from the test account to production (ovenai.golive).

`check` prints the checklist against the Graph API with the fix of each failure (exit 1
when anything fails); `subscribe` and `register --pin` make the two calls a new account
lacks; `smoke --to PHONE` sends one template and waits for its statuses through the
webhook. docs/operations.md "Going live" is the runbook.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ovenai import golive
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.db import Database
from ovenai.errors import OvenAIError

golive_app = typer.Typer(help="Going live: check production against Meta, subscribe, register.")
app.add_typer(golive_app, name="golive")
MARKS = {golive.State.OK: "ok  ", golive.State.WARN: "warn", golive.State.FAIL: "FAIL"}


def _graph_failed(exc: golive.GraphRefusal) -> typer.Exit:
    typer.echo(f"error: Meta answered {exc.code}: {exc.message}", err=True)
    return typer.Exit(1)


@golive_app.command("check")
def check() -> None:
    """Check the production configuration against the Graph API: token and permissions,
    the number (in the account, registered, name, quality), the webhook subscription and
    URL, the API version, the seed templates approved. Exit 1 when anything fails."""
    config = common.settings(graph=True)

    async def work(_db: Database) -> list[golive.Item]:
        return await golive.check(config)

    items = common.with_db(config, work)
    for item in items:
        typer.echo(f"[{MARKS[item.state]}] {item.name}: {item.detail}")
        if item.fix and item.state is not golive.State.OK:
            typer.echo(f"         fix: {item.fix}")
    if not golive.ready(items):
        failed = sum(item.state is golive.State.FAIL for item in items)
        typer.echo(f"not ready: {failed} to fix")
        raise typer.Exit(1)
    typer.echo("ready to go live")


@golive_app.command("subscribe")
def subscribe() -> None:
    """Subscribe the app to the business account's webhooks (POST /{waba}/subscribed_apps)."""
    config = common.settings(graph=True)

    async def work(_db: Database) -> bool:
        return await golive.subscribe(config)

    try:
        done = common.with_db(config, work)
    except golive.GraphRefusal as exc:
        raise _graph_failed(exc) from None
    typer.echo("the app is subscribed to the account's webhooks" if done else "Meta said no")
    if not done:
        raise typer.Exit(1)


@golive_app.command("register")
def register(
    pin: Annotated[
        str, typer.Option(prompt=True, hide_input=True, help="The number's two-step PIN.")
    ],
) -> None:
    """Register the business number with the Cloud API (POST /{phone-number-id}/register)."""
    config = common.settings(graph=True)

    async def work(_db: Database) -> bool:
        return await golive.register(config, pin)

    try:
        done = common.with_db(config, work)
    except golive.GraphRefusal as exc:
        raise _graph_failed(exc) from None
    except OvenAIError as exc:
        raise common.fail(exc) from None
    typer.echo("the number is registered with the Cloud API" if done else "Meta said no")
    if not done:
        raise typer.Exit(1)


@golive_app.command("smoke")
def smoke(
    to: Annotated[str, typer.Option("--to", help="A test recipient's phone number.")],
    template: Annotated[str, typer.Option(help="The template's exact name.")] = (
        golive.SMOKE_TEMPLATE
    ),
    language: Annotated[str, typer.Option(help="The template's language code.")] = "he",
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Its parameters, in order (repeat).")
    ] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the statuses.")] = 120.0,
) -> None:
    """Send one template to a test recipient and wait for its statuses to come back through
    the webhook (serve must be running and Meta subscribed). Exit 1 unless delivered."""
    config = common.settings(graph=True)
    params = tuple(param) if param else golive.SMOKE_PARAMS

    async def work(db: Database) -> golive.SmokeReport:
        return await golive.smoke(
            db, config, to=to, template=template, language=language, params=params, wait_s=wait
        )

    try:
        report = common.with_db(config, work)
    except golive.GraphRefusal as exc:
        raise _graph_failed(exc) from None
    typer.echo(f"sent {template} to {to}: {report.wamid}")
    for status, at, error in report.statuses:
        typer.echo(
            f"  {status} at {at.isoformat(timespec='seconds')}{f' ({error})' if error else ''}"
        )
    if report.delivered:
        typer.echo("delivered: the webhook brought the statuses back")
        return
    typer.echo("failed" if report.failed else f"no delivery status within {wait:g} s")
    raise typer.Exit(1)
