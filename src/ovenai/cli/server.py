"""`ovenai serve`: the HTTP product (and, in sandbox mode, everything `make run` needs)."""

from __future__ import annotations

from typing import Annotated

import typer

from ovenai.cli import app, common
from ovenai.settings import Settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    sandbox: Annotated[
        bool, typer.Option(help="Embedded mode: migrate, seed, demo admin, simulator.")
    ] = False,
) -> None:
    """Serve webhooks, the REST API, health and metrics."""
    import uvicorn

    from ovenai.web.app import create_app

    config = common.settings(sandbox=sandbox)
    if sandbox:
        _prepare_sandbox(config)
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")


def _prepare_sandbox(config: Settings) -> None:
    from ovenai import sandbox

    common.migrate(config)
    login = common.with_db(config, sandbox.ensure_demo_admin)
    if login is not None:
        typer.echo(f"Demo admin created (shown once): {login.email} / {login.password}")
        typer.echo(f"API token (shown once): {login.token}")
