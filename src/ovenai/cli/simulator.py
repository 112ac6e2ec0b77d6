"""`ovenai simulator`, and the sandbox's two servers: the product and the simulator.

In sandbox mode (`ovenai serve --sandbox`, i.e. `make run`) both are served by uvicorn in
one process and one event loop: the simulator on a loopback port answers the product's
Graph calls and delivers signed webhooks to the product's own webhook route. Only this
wiring knows the simulator exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated

import typer
import uvicorn

from ovenai.cli import app, common
from ovenai.errors import ConfigurationError
from ovenai.settings import Settings
from ovenai.simulator import SimulatorConfig, create_simulator_app, uvicorn_config

WEBHOOK_PATH = "/api/webhooks/whatsapp"
LOOPBACK = "127.0.0.1"


class OwnedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to its owner (several share one process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (port 0: a free one); uvicorn listens on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def bound_port(sock: socket.socket) -> int:
    """The port a socket is bound to."""
    port: int = sock.getsockname()[1]
    return port


async def serve_together(servers: Sequence[tuple[uvicorn.Server, socket.socket]]) -> bool:
    """Serve until SIGINT/SIGTERM or until one server stops; True when all had started.

    1. A signal asks every server to finish (a second one stops waiting for connections).
    2. When one server ends on its own (a failed start-up), the others are asked to end.
    """
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server, _ in servers:
            server.force_exit = server.should_exit
            server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    try:
        tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in servers]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for server, _ in servers:
            server.should_exit = True
        await asyncio.gather(*tasks)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return all(server.started for server, _ in servers)


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
    from ovenai.cli.server import SERVER_OPTIONS
    from ovenai.web.app import create_app

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
    from ovenai.web.app import open_database
    from ovenai.worker import run_worker

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
