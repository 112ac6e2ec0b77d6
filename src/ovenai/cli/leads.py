"""`ovenai leads ...`: importing leads; a lead's engagement score and why."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ovenai import auth, automation, engagement, lead_import
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.db import Database
from ovenai.pagination import MAX_LIMIT, PageQuery

leads_app = typer.Typer(help="Leads.")
app.add_typer(leads_app, name="leads")


@leads_app.command("import")
def leads_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    greet: Annotated[
        bool,
        typer.Option(
            "--greet",
            help="Let the automation rules greet each new lead, as for one added through"
            " the API (without it imported leads are never messaged by themselves).",
        ),
    ] = False,
) -> None:
    """Import leads from a CSV file (UTF-8, Hebrew or English headers)."""
    config = common.settings()

    async def work(db: Database) -> lead_import.ImportReport:
        if greet:
            automation.install(config, db.vault)
        try:
            return await lead_import.import_leads(
                db, path=file, actor=auth.Actor.system(), greet=greet
            )
        finally:
            automation.uninstall()

    report = common.with_db(config, work)
    typer.echo(
        f"imported {report.imported}, updated {report.updated}, rejected {len(report.rejected)}"
    )
    for line, reason in report.rejected:
        typer.echo(f"  line {line}: {reason}")
    if report.ignored_columns:
        typer.echo(f"  ignored columns: {', '.join(report.ignored_columns)}")


@leads_app.command("score")
def leads_score(
    lead_id: str,
    limit: Annotated[
        int, typer.Option(min=1, max=MAX_LIMIT, help="At most this many changes.")
    ] = 50,
) -> None:
    """A lead's engagement score and its changes, newest first: time, change, score after,
    reason, source."""

    async def work(db: Database) -> engagement.ScoreHistory:
        page = PageQuery(limit=limit)
        return await engagement.history(db, actor=auth.Actor.system(), lead_id=lead_id, page=page)

    history = common.with_db(common.settings(), work)
    typer.echo(f"score {history.score}")
    for change in history.changes:
        when = change.at.isoformat(timespec="seconds")
        typer.echo(
            f"{when}  {change.delta:+4d}  {change.score:3d}  {change.reason}  {change.source}"
        )
    if not history.changes:
        typer.echo("no changes yet")
    elif history.next_cursor:
        typer.echo(f"(the newest {len(history.changes)}; --limit shows more)")
