"""`ovenai leads ...`: importing leads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ovenai import auth, lead_import
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.db import Database

leads_app = typer.Typer(help="Leads.")
app.add_typer(leads_app, name="leads")


@leads_app.command("import")
def leads_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import leads from a CSV file (UTF-8, Hebrew or English headers)."""

    async def work(db: Database) -> lead_import.ImportReport:
        return await lead_import.import_leads(db, path=file, actor=auth.Actor.system())

    report = common.with_db(common.settings(), work)
    typer.echo(
        f"imported {report.imported}, updated {report.updated}, rejected {len(report.rejected)}"
    )
    for line, reason in report.rejected:
        typer.echo(f"  line {line}: {reason}")
    if report.ignored_columns:
        typer.echo(f"  ignored columns: {', '.join(report.ignored_columns)}")
