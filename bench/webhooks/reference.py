"""The reference endpoint: the least a signed store-before-ack webhook can do on this box.

Raw ASGI, no framework: read the body, HMAC-SHA256 over the raw bytes compared in constant
time (401 otherwise), INSERT the raw body, then 200. The insert is group-committed by one
writer thread (sqlite3 or psycopg, same durability settings as the product), so the figure
is the floor the product's acknowledgement path is compared against, measured in the same
run. No encryption, no JSON or depth check, no metrics, no security headers.

Served by ``bench.webhooks.ack --app reference``; not importable by the product.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import sqlite3
import threading
import uuid
from queue import SimpleQueue
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench.webhooks.common import APP_SECRET

_SECRET = APP_SECRET.encode()
_OK = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
_DENIED = {"type": "http.response.start", "status": 401, "headers": []}


class RawWriter:
    """Group commit: the thread writes whatever is queued with one executemany + COMMIT."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        mark = "?" if self.sqlite else "%s"
        self.sql = f"INSERT INTO reference_events (id, body) VALUES ({mark}, {mark})"
        self.queue: SimpleQueue[tuple[tuple[str, bytes], asyncio.Future[None]]] = SimpleQueue()
        self.loop = asyncio.get_running_loop()
        conn = self._connect()
        blob = "BLOB" if self.sqlite else "BYTEA"
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS reference_events (id TEXT PRIMARY KEY, body {blob})"
        )
        conn.close()
        threading.Thread(target=self._run, daemon=True).start()

    def _connect(self) -> Any:
        if self.sqlite:
            conn = sqlite3.connect(self.url.database or "", isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
                conn.execute(f"PRAGMA {pragma}")
            return conn
        args = self.url.translate_connect_args(username="user", database="dbname")
        return psycopg.connect(autocommit=True, **args)

    def _run(self) -> None:
        conn = self._connect()
        while True:
            batch = [self.queue.get()]
            while not self.queue.empty() and len(batch) < 512:
                batch.append(self.queue.get())
            if self.sqlite:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(self.sql, [row for row, _ in batch])
                conn.execute("COMMIT")
            else:
                with conn.transaction(), conn.cursor() as cursor:
                    cursor.executemany(self.sql, [row for row, _ in batch])
            self.loop.call_soon_threadsafe(_release, [done for _, done in batch])


def _release(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        future.set_result(None)


class Reference:
    """The ASGI app: POST a signed body, get 200 once it is committed."""

    def __init__(self) -> None:
        self.writer: RawWriter | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            self.writer = RawWriter(os.environ["DATABASE_URL"])
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        given = dict(scope["headers"]).get(b"x-hub-signature-256", b"")
        expected = b"sha256=" + hmac.new(_SECRET, body, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(given, expected):
            await send(_DENIED)
            await send({"type": "http.response.body", "body": b"denied"})
            return
        assert self.writer is not None
        done: asyncio.Future[None] = self.writer.loop.create_future()
        self.writer.queue.put(((uuid.uuid4().hex, body), done))
        await done
        await send(_OK)
        await send({"type": "http.response.body", "body": b"ok"})


app = Reference()
