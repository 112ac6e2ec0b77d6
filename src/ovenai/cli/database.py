"""`ovenai db ...`: the schema, and backups of the database with its key store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ovenai import automation, backups, rollback
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.errors import OvenAIError

db_app = typer.Typer(help="The database schema, and backups of it with its key store.")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database and key store, then add the default
    automation rules not stored yet (ovenai automation seed)."""
    config = common.settings()
    try:
        common.migrate(config)
    except Exception as exc:  # alembic/driver errors: one line, no traceback
        typer.echo(f"error: the migration failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo("database is up to date")
    report = common.with_db(config, automation.seed_rules)
    if report.added:
        typer.echo(f"added {len(report.added)} default automation rules")


@db_app.command(
    "downgrade", context_settings={"ignore_unknown_options": True, "allow_extra_args": False}
)
def db_downgrade(
    rev: Annotated[
        str,
        typer.Argument(help="Revision to go back to: an id (0017), -1 (one step), -N or base."),
    ] = "-1",
) -> None:
    """Undo migrations of the data database (the key store is left as it is). What the undone
    migrations added goes with its data, and is listed: back the database up first."""
    config = common.settings()
    try:
        report = rollback.downgrade(config.database_url, rev)
    except OvenAIError as exc:
        raise common.fail(exc) from None
    typer.echo(f"database downgraded from {report.before} to {report.after or 'base'}")
    for item in report.discarded:
        typer.echo(f"  discarded {item}")
    if not report.discarded:
        typer.echo("  no data was discarded")


@db_app.command("current")
def db_current() -> None:
    """Print the data database's revision and the newest one this release has."""
    config = common.settings()
    now = rollback.current(config.database_url)
    typer.echo(f"database: {now or 'none'}; newest: {rollback.head()}")


@db_app.command("backup")
def db_backup(
    folder: Annotated[Path, typer.Argument(help="A new (or empty) folder for this backup.")],
) -> None:
    """Back the database and its key store up together (the data first, then the keys), with
    a manifest. The master keys (OVENAI_ENCRYPTION_KEYS) are not in it: keep them apart."""
    config = common.settings()
    try:
        report = backups.take(config, folder)
    except OvenAIError as exc:
        raise common.fail(exc) from None
    typer.echo(f"backup taken at {report.taken_at.isoformat(timespec='seconds')} in {folder}")
    for name, size in report.files.items():
        typer.echo(f"  {name}: {size:,} bytes")


@db_app.command("restore")
def db_restore(
    folder: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="A folder `db backup` made.")
    ],
) -> None:
    """Restore a backup into the configured database and key store, which must be new and
    empty; then run `ovenai privacy replay-erasures`, so that whoever was erased after the
    backup was taken is erased again."""
    config = common.settings()
    try:
        report = backups.restore(config, folder)
    except OvenAIError as exc:
        raise common.fail(exc) from None
    taken = report.taken_at.isoformat(timespec="seconds")
    typer.echo(f"restored the backup taken at {taken}")
    typer.echo("next: ovenai privacy replay-erasures (the erasures made since the backup)")
