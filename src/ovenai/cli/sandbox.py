"""Sandbox mode (`ovenai serve --sandbox`, i.e. `make run`): the product and the simulator.

It migrates the embedded databases, creates a demo admin and loads the seed templates
(:mod:`ovenai.sandbox`), then serves both apps with uvicorn in one process and one event
loop, with the worker beside them: the simulator on a loopback port answers the product's
Graph calls and delivers signed webhooks to the product's own webhook route. This wiring is
the only part of the product that knows the simulator exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import typer
import uvicorn

from ovenai import automation
from ovenai.cli import common
from ovenai.cli import demo as demo_cli
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
from ovenai.settings import Settings, record_sandbox_urls
from ovenai.simulator import create_simulator_app, uvicorn_config
from ovenai.web.app import create_app
from ovenai.worker import run_worker

DEMO_WAIT_TRIES = 120  # half-seconds to wait for both servers before adding the demo


def prepare(config: Settings) -> bool:
    """Migrate, and on first use create the demo admin and load the seed templates; whether
    this was the first use (an empty database)."""
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
    return login is not None


def simulator_port_for(port: int, simulator_port: int | None) -> int:
    """The simulator's port: as given, else the product's port + 1 (for 0 or 65535: any)."""
    if simulator_port is not None:
        return simulator_port
    return port + 1 if 0 < port < 65535 else 0


def serve(
    config: Settings,
    *,
    host: str,
    port: int,
    simulator_port: int | None,
    demo_agency: bool = False,
) -> None:
    """The product and the bundled simulator in one process until Ctrl-C.

    The simulator listens on ``simulator_port``, by default the product's port + 1, so
    both are known before the start: `make run` serves 8000 and 8001. With
    ``demo_agency`` (a new database) the demo agency is added once both answer.
    """
    simulator_port = simulator_port_for(port, simulator_port)
    try:
        started = asyncio.run(
            run_sandbox(
                config,
                host=host,
                port=port,
                simulator_port=simulator_port,
                demo_agency=demo_agency,
            )
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


async def run_sandbox(
    config: Settings, *, host: str, port: int, simulator_port: int, demo_agency: bool = False
) -> bool:
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
    # The checkout's commands (`ovenai templates sync` ...) find the simulator here.
    record_sandbox_urls(config.data_dir, product=product_url, simulator=sim_url)
    product = uvicorn.Config(
        create_app(config), host=host, port=bound_port(product_sock), **SERVER_OPTIONS
    )
    typer.echo(f"OvenAI (sandbox) on {product_url}; WhatsApp simulator on {sim_url}")
    async with in_process_worker(config), _demo_once_up(config, product_url, demo_agency):
        return await serve_together([(sim_server, sim_sock), (OwnedServer(product), product_sock)])


@asynccontextmanager
async def _demo_once_up(config: Settings, product_url: str, wanted: bool) -> AsyncIterator[None]:
    """Add the demo agency (ovenai.demo) once the product and the simulator answer."""
    task = asyncio.create_task(_add_demo(config, product_url)) if wanted else None
    try:
        yield
    finally:
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


async def _add_demo(config: Settings, product_url: str) -> None:
    ready = (product_url + "/health/live", config.whatsapp_api_base_url + "/_sim/config")
    for _ in range(DEMO_WAIT_TRIES):
        if all([await asyncio.to_thread(_answers, url) for url in ready]):
            break
        await asyncio.sleep(0.5)
    try:
        report = await asyncio.to_thread(demo_cli.populate, config, empty=False)
    except (typer.Exit, OvenAIError) as exc:
        typer.echo(f"the demo agency could not be added ({exc}); try `ovenai demo reset`")
        return
    typer.echo(demo_cli.ready_line(report))


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
