"""`ovenai serve`: the HTTP product (and, in sandbox mode, everything `make run` needs)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer

from ovenai.cli import app, common
from ovenai.settings import Settings

SERVER_OPTIONS: dict[str, Any] = {"loop": "uvloop", "http": "httptools", "access_log": False}
"""Uvicorn for the product: uvloop and httptools named rather than guessed, and uvicorn's own
access log off. It prints query strings (Meta's verify token) and cost a quarter of the
webhook throughput (10,800 vs 14,500/s measured); the app's AccessLog middleware logs every
route but the webhook path instead (bench/README.md "Webhooks")."""


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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", **SERVER_OPTIONS)


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
