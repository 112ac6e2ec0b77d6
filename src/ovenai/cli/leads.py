"""`ovenai leads ...`: importing leads; a lead's engagement score and why; its consent."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from ovenai import (
    auth,
    automation,
    consent,
    engagement,
    import_files,
    lead_consent,
    lead_import,
)
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.db import Database
from ovenai.errors import InvalidInput
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
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print what would change and write nothing."),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace the stored values of known leads with the file's (without it only"
            " empty fields are filled); stage, agent and notes a person changed stay.",
        ),
    ] = False,
) -> None:
    """Import leads from a CSV (UTF-8 or Windows-1255; comma, semicolon or tab) or XLSX
    file, Hebrew or English headers and values; one line per row that is not new."""
    config = common.settings()
    show_bar = sys.stderr.isatty()

    async def work(db: Database) -> lead_import.ImportReport:
        if greet and not dry_run:
            automation.install(config, db.vault)
        try:
            sheet = lead_import.open_sheet(file.read_bytes(), file.name)
            if not show_bar:
                return await _import(db, sheet, None)
            with typer.progressbar(
                length=sheet.total or 0, label="importing", file=sys.stderr
            ) as bar:
                return await _import(db, sheet, bar.update)
        finally:
            automation.uninstall()

    async def _import(
        db: Database, sheet: import_files.Sheet, step: Callable[[int], None] | None
    ) -> lead_import.ImportReport:
        return await lead_import.import_sheet(
            db,
            sheet,
            actor=auth.Actor.system(),
            greet=greet and not dry_run,
            dry_run=dry_run,
            overwrite=overwrite,
            progress=step,
        )

    # Inline (SQLite statements on this thread, as `ovenai worker` runs them): this process
    # serves nothing else, and a big file's statements are many.
    report = common.with_db(config, work, inline=True)
    typer.echo(report.summary() + ("; dry run: nothing written" if dry_run else ""))
    typer.echo(f"  read as {report.read_as}")
    for result in report.results:
        if result.outcome is not lead_import.Outcome.NEW or result.warnings or dry_run:
            typer.echo(f"  {result.line()}")
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


@leads_app.command("consent")
def leads_consent(
    lead_id: str,
    opt_out: Annotated[
        bool, typer.Option("--opt-out", help="Record that the lead opted out of marketing.")
    ] = False,
    opt_in: Annotated[
        bool,
        typer.Option("--opt-in", help="Record the lead's opt-in (with --words: what they said)."),
    ] = False,
    basis: Annotated[
        str | None,
        typer.Option(
            help="Set the lawful basis for marketing: opt_in, inquiry_30a (with --words: what"
            " the lead was shown), or none to clear it."
        ),
    ] = None,
    words: Annotated[
        str | None, typer.Option(help="The exact words the lead wrote or was shown.")
    ] = None,
) -> None:
    """A lead's marketing consent: state, lawful basis and ledger (oldest first: time (UTC),
    change, source, who, words); with --opt-out, --opt-in or --basis records that first."""
    chosen = [name for name, on in (("opt_out", opt_out), ("opt_in", opt_in)) if on]
    chosen += ["basis"] if basis is not None else []
    if len(chosen) > 1:
        raise common.fail(InvalidInput("give one of --opt-out, --opt-in and --basis"))
    request = None
    if chosen:
        try:
            request = lead_consent.ConsentChange(
                action=chosen[0],
                basis=None if basis in (None, "none") else basis,
                words=words,
            )
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise common.fail(InvalidInput(problem)) from None

    async def work(db: Database) -> consent.ConsentState:
        actor = auth.Actor.system()
        if request is None:
            return await lead_consent.show(db, actor=actor, lead_id=lead_id)
        return await lead_consent.change(db, actor=actor, lead_id=lead_id, request=request)

    state = common.with_db(common.settings(), work)
    status = "opted out" if state.opted_out else "not opted out"
    marketing = "marketing allowed" if state.may_market else "utility messages only"
    typer.echo(f"{status}; basis {state.marketing_basis or 'none'}; {marketing}")
    for entry in state.ledger:
        when = entry.at.isoformat(timespec="seconds")
        said = f'  "{entry.words}"' if entry.words else ""
        typer.echo(f"{when}  {entry.kind}  {entry.source}  {entry.actor}{said}")
    if not state.ledger:
        typer.echo("no consent recorded yet")
