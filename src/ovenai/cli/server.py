"""`ovenai serve`: the HTTP product (and, in sandbox mode, everything `make run` needs)."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from ovenai.cli import common
from ovenai.cli.check_config import refuse_unfit
from ovenai.cli.root import app
from ovenai.cli.serving import SERVER_OPTIONS, StoppingServer


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    sandbox: Annotated[
        bool, typer.Option(help="Embedded mode: migrate, seed, demo admin, simulator.")
    ] = False,
    simulator_port: Annotated[
        int | None,
        typer.Option(help="Sandbox: the simulator's loopback port (default --port + 1; 0: any)."),
    ] = None,
) -> None:
    """Serve webhooks, the REST API, health and metrics."""
    config = common.settings(sandbox=sandbox, service=True)
    refuse_unfit(config)  # production only: the checks of `ovenai check-config`
    # Imported on use: the web app (and the sandbox's simulator) add ~0.3 s to the start-up
    # of every other `ovenai` command, which all load this module (1.05 s → 1.35 s measured).
    from ovenai import logs

    logs.configure(config)  # level and format by setting (OVENAI_LOG_LEVEL, _FORMAT)
    if sandbox:
        from ovenai.cli import sandbox as sandbox_mode

        fresh = sandbox_mode.prepare(config)  # a new database opens onto the demo agency
        sandbox_mode.serve(
            config, host=host, port=port, simulator_port=simulator_port, demo_agency=fresh
        )
        return
    from ovenai.web.app import create_app

    product = create_app(config)
    server = StoppingServer(uvicorn.Config(product, host=host, port=port, **SERVER_OPTIONS))
    server.on_exit = product.state.live.close_soon  # waiting pages answer now, not in 25 s
    server.run()
