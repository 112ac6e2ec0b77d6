"""Keep-alive HTTP/1.1 connections to one origin: the wire under the Graph transport.

Chosen by measurement (bench/README.md, "Client"): a send through aiohttp's request
machinery cost about 320 µs of CPU on the 2-core box, the same exchange over an asyncio
protocol with ``httptools`` (the C parser uvicorn uses) about 125 µs — and the outbound
worker spends most of its time there. The pool does only what the Graph API needs:

1. at most ``limit`` connections, each carrying one request at a time (no pipelining);
2. connections kept alive and reused newest first; one idle for more than ``keepalive_s``,
   closed by the server or answered with ``Connection: close`` is never reused;
3. TLS for ``https`` origins (the system's default verification), TCP for ``http``;
4. one deadline per request covering the wait for a connection, connecting and the answer;
   a request that fails or is cancelled closes its connection (a late answer must never be
   read as the next request's).

Errors: ``TimeoutError`` when the deadline passes, ``ConnectionError`` (an ``OSError``) for a
refused, reset or malformed exchange. Headers are given as bytes once (the access token among
them) and never logged or shown by ``repr``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

MAX_BODY = 16 * 1024 * 1024  # larger answers are not the Graph API's: refuse them


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP response: its status and its whole (de-chunked) body."""

    status: int
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Answer] | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.reusable = False
        self.closed = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"malformed HTTP answer: {exc}"))

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > MAX_BODY:
            self._fail(ConnectionError(f"answer larger than {MAX_BODY} bytes"))
        else:
            self.chunks.append(body)

    def on_message_complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        self.reusable = self.parser.should_keep_alive()
        answer = Answer(self.parser.get_status_code(), b"".join(self.chunks))
        self.chunks, self.size = [], 0
        if waiter is None or waiter.done():
            self.close()  # an answer nobody asked for: the exchange is out of step
        else:
            waiter.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionResetError("the server closed the connection before answering"))

    def expire(self) -> None:
        """The request's deadline passed: fail it and close (a late answer is never read)."""
        self._fail(TimeoutError("no answer before the deadline"))

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()

    def send(self, head: bytes, body: bytes) -> asyncio.Future[Answer]:
        """Write one request; the future answer."""
        assert self.transport is not None and self.waiter is None
        self.reusable = False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.writelines((head, body) if body else (head,))
        return self.waiter

    def close(self) -> None:
        """Close for good (nothing more is read or written)."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class ConnectionPool:
    """Up to ``limit`` keep-alive connections to the origin of ``base_url``."""

    def __init__(
        self,
        base_url: str,
        *,
        limit: int = 100,
        connect_timeout: float = 3.0,
        keepalive_s: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        default_port = parts.port is None or parts.port == (443 if self.tls else 80)
        self.authority = self.host if default_port else f"{self.host}:{self.port}"
        self.connect_timeout = connect_timeout
        self.keepalive_s = keepalive_s
        self._ssl = (ssl_context or ssl.create_default_context()) if self.tls else None
        self._slots = asyncio.Semaphore(limit)
        self._idle: deque[_Connection] = deque()
        self._closed = False

    def __repr__(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"ConnectionPool({scheme}://{self.authority})"

    async def request(
        self, method: str, target: str, *, headers: bytes, body: bytes = b"", timeout: float
    ) -> Answer:
        """One exchange; ``headers`` are complete header lines (each ending in CRLF)."""
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %d\r\n\r\n" % (
            method.encode(),
            target.encode(),
            self.authority.encode(),
            headers,
            len(body),
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._slots.locked():  # every connection busy: wait for one within the deadline
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        else:
            await self._slots.acquire()  # free: returns at once
        try:
            connection = self._kept_alive()
            if connection is None:
                async with asyncio.timeout_at(deadline):
                    connection = await self._connect()
            # The answer's deadline is one timer on the connection: asyncio.timeout, which
            # cancels the task, cost three times as much, and nearly every request is here.
            timer = loop.call_at(deadline, connection.expire)
            try:
                answer = await connection.send(head, body)
            except BaseException:
                connection.close()
                raise
            finally:
                timer.cancel()
            self._put_back(connection)
            return answer
        finally:
            self._slots.release()

    def _kept_alive(self) -> _Connection | None:
        """The newest idle connection still good to reuse (older ones are closed)."""
        if self._closed:
            raise ConnectionError("the connection pool is closed")
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and now - connection.idle_since < self.keepalive_s:
                return connection
            connection.close()
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        hostname = self.host if self.tls else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(
                    _Connection, self.host, self.port, ssl=self._ssl, server_hostname=hostname
                )
        except ssl.SSLError as exc:
            raise ConnectionError(f"TLS handshake with {self.host} failed: {exc}") from None
        return connection

    def _put_back(self, connection: _Connection) -> None:
        if self._closed or connection.closed or not connection.reusable:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)

    async def aclose(self) -> None:
        """Close every idle connection; ones in use close when their request ends."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()
        await asyncio.sleep(0)  # let the transports finish closing
