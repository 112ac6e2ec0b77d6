"""`ovenai simulator`: the Cloud API simulator as a process of its own (refused in production).

:func:`simulator_config` configures it from the WHATSAPP_* settings, here and in sandbox
mode (:mod:`ovenai.cli.sandbox`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.cli.serving import LOOPBACK, OwnedServer, bound_port, listen, serve_together
from ovenai.errors import ConfigurationError
from ovenai.settings import Settings
from ovenai.simulator import SimulatorConfig, create_simulator_app, uvicorn_config


def simulator_config(config: Settings, webhook_url: str | None) -> SimulatorConfig:
    """The simulator configured with the sandbox's WHATSAPP_* values."""
    try:
        return SimulatorConfig(
            access_token=config.secret("whatsapp_access_token"),
            phone_number_id=config.whatsapp_phone_number_id or SimulatorConfig.phone_number_id,
            business_account_id=config.whatsapp_business_account_id
            or SimulatorConfig.business_account_id,
            app_secret=config.secret("whatsapp_app_secret"),
            webhook_url=webhook_url,
            api_version=config.whatsapp_api_version,
        )
    except ValueError as exc:
        raise ConfigurationError(f"WHATSAPP_API_VERSION: {exc}") from None


@app.command("simulator")
def simulator(
    port: Annotated[int, typer.Option(help="Loopback port to listen on.")] = 8765,
    webhook_url: Annotated[
        str | None, typer.Option(help="Where to deliver webhooks (none when omitted).")
    ] = None,
) -> None:
    """Serve the WhatsApp Cloud API simulator (refused in production)."""
    config = common.settings(sandbox=True)
    try:
        sim = simulator_config(config, webhook_url)
        sock = listen(LOOPBACK, port)
    except ConfigurationError as exc:
        raise common.fail(exc) from None
    url = f"http://{LOOPBACK}:{bound_port(sock)}"
    typer.echo(
        f"WhatsApp simulator on {url} (phone number id {sim.phone_number_id}, "
        f"WABA {sim.business_account_id})"
    )
    server = OwnedServer(uvicorn_config(create_simulator_app(sim), LOOPBACK, bound_port(sock)))
    if not asyncio.run(serve_together([(server, sock)])):
        raise typer.Exit(1)
