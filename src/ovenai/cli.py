"""The `ovenai` command line: thin commands that call service functions.

Every command prints one clear line on a known error and exits with that error's code.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from ovenai import auth, lead_import
from ovenai.db import Database, upgrade, upgrade_keystore
from ovenai.errors import OvenAIError
from ovenai.models import Role
from ovenai.settings import Settings, load_settings

T = TypeVar("T")

app = typer.Typer(help="OvenAI: WhatsApp lead management for real-estate agencies.")
db_app = typer.Typer(help="The database schema.")
users_app = typer.Typer(help="People who sign in.")
tokens_app = typer.Typer(help="API tokens.")
leads_app = typer.Typer(help="Leads.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(leads_app, name="leads")


def _fail(exc: OvenAIError) -> typer.Exit:
    typer.echo(f"error: {exc.message}", err=True)
    return typer.Exit(exc.exit_code)


def _settings(*, sandbox: bool = False) -> Settings:
    try:
        return load_settings(sandbox=sandbox)
    except OvenAIError as exc:
        raise _fail(exc) from None


def _with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` against a started database, turning known errors into one line."""
    from ovenai.web.app import open_database

    async def run() -> T:
        db = open_database(settings)
        try:
            await db.start()
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except OvenAIError as exc:
        raise _fail(exc) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    sandbox: Annotated[
        bool, typer.Option(help="Embedded mode: migrate, seed, demo admin, simulator.")
    ] = False,
) -> None:
    """Serve webhooks, the REST API, health and metrics."""
    from ovenai.web.app import create_app

    settings = _settings(sandbox=sandbox)
    if sandbox:
        _prepare_sandbox(settings)
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _migrate(settings: Settings) -> None:
    upgrade(settings.database_url)
    assert settings.keystore_url is not None  # placed by load_settings
    upgrade_keystore(settings.keystore_url)


def _prepare_sandbox(settings: Settings) -> None:
    from ovenai import sandbox

    _migrate(settings)
    login = _with_db(settings, sandbox.ensure_demo_admin)
    if login is not None:
        typer.echo(f"Demo admin created (shown once): {login.email} / {login.password}")
        typer.echo(f"API token (shown once): {login.token}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database and key store."""
    settings = _settings()
    try:
        _migrate(settings)
    except Exception as exc:  # alembic/driver errors: one line, no traceback
        typer.echo(f"error: the migration failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo("database is up to date")


@users_app.command("create")
def users_create(
    email: str,
    role: Annotated[Role, typer.Option(help="admin or agent")] = Role.AGENT,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password: Annotated[
        str | None, typer.Option(help="Password (asked for when omitted and on a terminal).")
    ] = None,
) -> None:
    """Create a user who can sign in."""
    if password is None and sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    secret = password

    async def work(db: Database) -> None:
        await auth.create_user(db, email=email, role=role, password=secret, display_name=name)

    _with_db(_settings(), work)
    typer.echo(f"created {role.value} {email.strip().lower()}")


@tokens_app.command("create")
def tokens_create(
    email: str, name: Annotated[str, typer.Option(help="What the token is for.")] = ""
) -> None:
    """Print a new API token for a user (shown once; only its hash is kept)."""

    async def work(db: Database) -> auth.IssuedToken:
        return await auth.create_token(db, email=email, name=name)

    issued = _with_db(_settings(), work)
    typer.echo(issued.token)


@leads_app.command("import")
def leads_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import leads from a CSV file (UTF-8, Hebrew or English headers)."""

    async def work(db: Database) -> lead_import.ImportReport:
        return await lead_import.import_leads(db, path=file, actor=auth.Actor.system())

    report = _with_db(_settings(), work)
    typer.echo(
        f"imported {report.imported}, updated {report.updated}, rejected {len(report.rejected)}"
    )
    for line, reason in report.rejected:
        typer.echo(f"  line {line}: {reason}")
    if report.ignored_columns:
        typer.echo(f"  ignored columns: {', '.join(report.ignored_columns)}")


def main() -> None:
    """Entry point of the `ovenai` script."""
    app()
