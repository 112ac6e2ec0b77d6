"""Serving the simulator with uvicorn: in the foreground (CLI) or in a background thread."""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from ovenai.simulator.app import create_simulator_app
from ovenai.simulator.config import SimulatorConfig
from ovenai.simulator.protocol import SendProtocol
from ovenai.simulator.state import SimulatorState


def uvicorn_config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    """Uvicorn settings for the simulator (httptools, no websockets, no access log)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=SendProtocol,  # uvicorn's httptools protocol, answering plain sends itself
        loop="auto",  # uvloop where installed, when uvicorn makes the loop (run_simulator)
        ws="none",
        lifespan="on",
        access_log=False,
        # Loopback only: no proxy in front, and its middleware cost every request.
        proxy_headers=False,
        # No logging set-up of uvicorn's own: in the sandbox it would replace the product's
        # (ovenai.logs) and set the level of the loggers both servers share. Alone, the
        # simulator prints warnings and errors only, as before.
        log_config=None,
    )


async def serve_simulator(
    config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 8765
) -> None:
    """Serve the simulator until cancelled or interrupted (for ``ovenai simulator``)."""
    app = create_simulator_app(config or SimulatorConfig())
    await uvicorn.Server(uvicorn_config(app, host, port)).serve()


def run_simulator(
    config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 8765
) -> None:
    """Serve the simulator on uvicorn's own loop (uvloop) until interrupted."""
    app = create_simulator_app(config or SimulatorConfig())
    # Server.run makes the loop from the config; asyncio.run(serve()) would not use uvloop.
    uvicorn.Server(uvicorn_config(app, host, port)).run()


class SimulatorThread:
    """The simulator served by uvicorn in a daemon thread on a loopback port.

    Port 0 picks a free port; ``base_url`` tells which. Use as a context manager::

        with SimulatorThread(SimulatorConfig()) as sim:
            client = CloudApiClient(base_url=sim.base_url, ...)
    """

    def __init__(
        self, config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SimulatorConfig()
        self.app = create_simulator_app(self.config)
        self._server = uvicorn.Server(uvicorn_config(self.app, host, port))
        self._thread = threading.Thread(target=self._run, name="ovenai-simulator", daemon=True)
        self.host = host

    def _run(self) -> None:
        asyncio.run(self._server.serve())

    @property
    def state(self) -> SimulatorState:
        """The live simulator state (read it from the serving thread's point of view)."""
        state: SimulatorState = self.app.state.simulator
        return state

    @property
    def port(self) -> int:
        """The bound port."""
        sockets = self._server.servers[0].sockets
        port: int = sockets[0].getsockname()[1]
        return port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (give it to the client as ``base_url``)."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> SimulatorThread:
        """Start serving; return once the socket is bound."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
