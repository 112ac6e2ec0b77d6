"""Sandbox mode (`ovenai serve --sandbox`, i.e. `make run`): the product and the simulator.

It migrates the embedded databases, creates a demo admin and loads the seed templates
(:mod:`ovenai.sandbox`), then serves both apps with uvicorn in one process and one event
loop, with the worker beside them: the simulator on a loopback port answers the product's
Graph calls and delivers signed webhooks to the product's own webhook route. This wiring is
the only part of the product that knows the simulator exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import typer
import uvicorn

from ovenai import automation
from ovenai.cli import common
from ovenai.cli.serving import (
    LOOPBACK,
    SERVER_OPTIONS,
    OwnedServer,
    bound_port,
    listen,
    serve_together,
)
from ovenai.cli.simulator import simulator_config
from ovenai.db import open_database
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.errors import OvenAIError
from ovenai.sandbox import ensure_demo_admin, ensure_seed_templates
from ovenai.settings import Settings
from ovenai.simulator import create_simulator_app, uvicorn_config
from ovenai.web.app import create_app
from ovenai.worker import run_worker


def prepare(config: Settings) -> None:
    """Migrate, and on first use create the demo admin and load the seed templates."""
    common.migrate(config)
    login = common.with_db(config, ensure_demo_admin)
    if login is not None:
        typer.echo(f"Demo admin created (shown once): {login.email} / {login.password}")
        typer.echo(f"API token (shown once): {login.token}")
    waba_id = str(config.whatsapp_business_account_id)
    added = common.with_db(config, lambda db: ensure_seed_templates(db, waba_id=waba_id))
    if added:
        typer.echo(f"Loaded {added} seed templates for WABA {waba_id}")
    seeded = common.with_db(config, automation.seed_rules)
    if seeded.added:
        typer.echo(f"Added {len(seeded.added)} default automation rules")


def serve(config: Settings, *, host: str, port: int, simulator_port: int) -> None:
    """The product and the bundled simulator in one process until Ctrl-C."""
    try:
        started = asyncio.run(
            run_sandbox(config, host=host, port=port, simulator_port=simulator_port)
        )
    except OvenAIError as exc:
        raise common.fail(exc) from None
    if not started:
        raise typer.Exit(3)


def _loopback_of(host: str) -> str:
    """Where this process reaches a server listening on ``host``."""
    if host in ("", "0.0.0.0", "::"):
        return LOOPBACK
    return f"[{host}]" if ":" in host else host


def point_at_simulator(config: Settings, sim_url: str) -> None:
    """Send the product's Graph calls to the simulator, unless WHATSAPP_API_BASE_URL is set."""
    if "whatsapp_api_base_url" not in config.model_fields_set:
        config.whatsapp_api_base_url = sim_url


async def run_sandbox(config: Settings, *, host: str, port: int, simulator_port: int) -> bool:
    """Serve the product and the simulator in this event loop until stopped.

    The product's Graph calls go to the simulator unless WHATSAPP_API_BASE_URL was set;
    the simulator's webhooks go to the product's own webhook route.
    """
    product_sock = listen(host, port)
    sim_sock = listen(LOOPBACK, simulator_port)
    product_url = f"http://{_loopback_of(host)}:{bound_port(product_sock)}"
    sim_url = f"http://{LOOPBACK}:{bound_port(sim_sock)}"
    sim_app = create_simulator_app(simulator_config(config, product_url + WEBHOOK_PATH))
    # The simulator's uvicorn config first: each config sets the shared uvicorn loggers'
    # level, and the product's (info) must be the one that stays.
    sim_server = OwnedServer(uvicorn_config(sim_app, LOOPBACK, bound_port(sim_sock)))
    point_at_simulator(config, sim_url)
    product = uvicorn.Config(
        create_app(config), host=host, port=bound_port(product_sock), **SERVER_OPTIONS
    )
    typer.echo(f"OvenAI (sandbox) on {product_url}; WhatsApp simulator on {sim_url}")
    async with in_process_worker(config):
        return await serve_together([(sim_server, sim_sock), (OwnedServer(product), product_sock)])


@asynccontextmanager
async def in_process_worker(config: Settings) -> AsyncIterator[None]:
    """The outbound dispatcher and scheduler beside the servers (the sandbox's one worker)."""
    db = open_database(config)
    await db.start()
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(config, db, stop))
    try:
        yield
    finally:
        stop.set()
        await task
        await db.dispose()
