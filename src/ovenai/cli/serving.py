"""Serving ASGI apps from the command line: the product's uvicorn options, sockets bound up
front, and several servers sharing one process and event loop (`serve --sandbox`)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any

import uvicorn

from ovenai.errors import ConfigurationError

LOOPBACK = "127.0.0.1"
KEEP_ALIVE_S = 5
"""How long ``serve`` keeps an idle connection open (uvicorn's default, named): nginx's
upstream ``keepalive_timeout`` (deploy/nginx/ovenai.conf) is shorter, so that nginx closes an
idle connection first. Were serve to close one just as nginx sends a request on it, nginx could
not tell whether serve got it and would answer a POST 502 (it passes only idempotent requests
on to the next server)."""

SERVER_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "timeout_keep_alive": KEEP_ALIVE_S,
    "http": "httptools",
    "access_log": False,
    "proxy_headers": False,
    "log_config": None,
}
"""Uvicorn for the product: uvloop and httptools named rather than guessed, and uvicorn's own
access log off. It prints query strings (Meta's verify token) and cost a quarter of the
webhook throughput (10,800 vs 14,500/s measured); the app's AccessLog middleware logs every
route but the webhook path instead (bench/README.md "Webhooks"). Uvicorn's proxy headers are
off too: it believes X-Forwarded-For from loopback, and the app itself believes it only from
OVENAI_TRUSTED_PROXIES (:func:`ovenai.web.app.create_app`). Uvicorn sets up no logging of its
own: `ovenai serve` does (:func:`ovenai.logs.configure`), and uvicorn's lines go there."""


class StoppingServer(uvicorn.Server):
    """A uvicorn server that tells the app when it is asked to stop (``on_exit``), before
    it waits for the requests in flight: a page's question held until its conversation
    changes (ovenai.live) would otherwise hold the stop for the rest of its wait."""

    on_exit: Callable[[], None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self.on_exit is not None:
            self.on_exit()


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
