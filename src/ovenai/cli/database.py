"""`ovenai db ...`: the schema."""

from __future__ import annotations

import typer

from ovenai import automation
from ovenai.cli import common
from ovenai.cli.root import app

db_app = typer.Typer(help="The database schema.")
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
