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
    simulator_port: Annotated[
        int, typer.Option(help="Sandbox: the simulator's loopback port (0: a free one).")
    ] = 0,
) -> None:
    """Serve webhooks, the REST API, health and metrics."""
    import uvicorn

    from ovenai.web.app import create_app

    config = common.settings(sandbox=sandbox)
    if sandbox:
        _prepare_sandbox(config)
        _serve_sandbox(config, host=host, port=port, simulator_port=simulator_port)
        return
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")


def _prepare_sandbox(config: Settings) -> None:
    from ovenai import sandbox

    common.migrate(config)
    login = common.with_db(config, sandbox.ensure_demo_admin)
    if login is not None:
        typer.echo(f"Demo admin created (shown once): {login.email} / {login.password}")
        typer.echo(f"API token (shown once): {login.token}")
    waba_id = str(config.whatsapp_business_account_id)
    added = common.with_db(config, lambda db: sandbox.ensure_seed_templates(db, waba_id=waba_id))
    if added:
        typer.echo(f"Loaded {added} seed templates for WABA {waba_id}")


def _serve_sandbox(config: Settings, *, host: str, port: int, simulator_port: int) -> None:
    """The product and the bundled simulator in one process until Ctrl-C."""
    import asyncio

    from ovenai.cli.simulator import run_sandbox
    from ovenai.errors import OvenAIError

    try:
        started = asyncio.run(
            run_sandbox(config, host=host, port=port, simulator_port=simulator_port)
        )
    except OvenAIError as exc:
        raise common.fail(exc) from None
    if not started:
        raise typer.Exit(3)
