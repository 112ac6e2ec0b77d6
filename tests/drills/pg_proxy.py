"""A TCP proxy on loopback that a drill can cut: PostgreSQL gone without stopping the server.

The machine's PostgreSQL is shared, so a drill never stops it: the product's processes are
pointed at this proxy instead, which forwards to 127.0.0.1:5432. :meth:`CutProxy.cut` closes
every connection it carries (the processes read EOF, as after a server crash) and stops
listening (new connections are refused); :meth:`CutProxy.restore` listens again on the same
port. It runs its own event loop in a thread, so sync and async tests use it alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

HOST = "127.0.0.1"
CHUNK = 65536


class CutProxy:
    """Forwards loopback connections to ``upstream``; :meth:`cut` and :meth:`restore` it."""

    def __init__(self, upstream_port: int = 5432) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.connections = 0  # accepted while up, over the proxy's life
        self.refused_while_cut = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def start(self) -> int:
        """Listen on a free loopback port; return it."""
        self._thread.start()
        self._call(self._listen())
        return self.port

    def cut(self) -> None:
        """Close every carried connection and refuse new ones."""
        self._call(self._cut())

    def restore(self) -> None:
        """Accept connections again, on the same port."""
        self._call(self._listen())

    def close(self) -> None:
        """Cut, then stop the proxy's loop and thread."""
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._carry, HOST, self.port, reuse_address=True)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _carry(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        if self._server is None:  # accepted in the instant of a cut
            client.transport.abort()
            self.refused_while_cut += 1
            return
        try:
            upstream_reader, upstream = await asyncio.open_connection(HOST, self.upstream_port)
        except OSError:
            client.transport.abort()
            return
        if self._server is None:  # cut while the upstream connection was being made
            for writer in (client, upstream):
                writer.transport.abort()
            return
        self.connections += 1
        self._open |= {client, upstream}
        try:
            await asyncio.gather(_pipe(client_reader, upstream), _pipe(upstream_reader, client))
        finally:
            for writer in (client, upstream):
                self._open.discard(writer)
                writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until either side goes; then close the other side too."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()
