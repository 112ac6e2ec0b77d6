"""`ovenai serve`: the HTTP product (and, in sandbox mode, everything `make run` needs)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import uvicorn

from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.cli.serving import SERVER_OPTIONS


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
    config = common.settings(sandbox=sandbox, service=True)
    # Imported on use: the web app (and the sandbox's simulator) add ~0.3 s to the start-up
    # of every other `ovenai` command, which all load this module (1.05 s → 1.35 s measured).
    if sandbox:
        from ovenai.cli import sandbox as sandbox_mode

        sandbox_mode.prepare(config)
        sandbox_mode.serve(config, host=host, port=port, simulator_port=simulator_port)
        return
    from ovenai.web.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", **SERVER_OPTIONS)
