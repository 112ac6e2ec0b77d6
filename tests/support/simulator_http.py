"""The simulator's HTTP counterparts in tests: a client of its control API and a receiver.

Both are real HTTP parts (no patching): :class:`SimControl` calls the simulator's ``/_sim``
control API (async); :class:`WebhookReceiver` is an aiohttp server on 127.0.0.1 that answers
with chosen statuses and keeps the exact bytes and headers it got. Only tests use them, so
they live here rather than in the product's package.
"""

from __future__ import annotations

import asyncio
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from ovenai.simulator.webhooks import sign

JsonDict = dict[str, Any]


def post_control(base_url: str, path: str, body: JsonDict | None = None) -> Any:
    """``POST /_sim/{path}`` from sync code (a reset, a review ...); the JSON answer."""
    data = orjson.dumps(body or {})
    request = urllib.request.Request(f"{base_url}/_sim/{path}", data=data, method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200
        return orjson.loads(answer.read())


class SimControl:
    """Calls the simulator's ``/_sim`` control API."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session

    async def _call(self, method: str, path: str, body: JsonDict | None = None) -> Any:
        url = f"{self.base_url}/_sim/{path}"
        data = orjson.dumps(body) if body is not None else None
        async with self.session.request(method, url, data=data) as answer:
            payload = orjson.loads(await answer.read())
            if answer.status != 200:
                raise AssertionError(f"control {path} answered {answer.status}: {payload}")
            return payload

    async def inbound(self, **message: Any) -> JsonDict:
        """Deliver an inbound message (``from``, ``type``, ``text`` ...)."""
        answer: JsonDict = await self._call("POST", "inbound", message)
        return answer

    async def faults(self, **spec: Any) -> JsonDict:
        """Inject faults (see ovenai.simulator.faults)."""
        answer: JsonDict = await self._call("POST", "faults", spec)
        return answer

    async def config(self, **spec: Any) -> JsonDict:
        """Change live settings such as ``webhook_url``."""
        answer: JsonDict = await self._call("POST", "config", spec)
        return answer

    async def review(self, **spec: Any) -> JsonDict:
        """Decide pending templates now."""
        answer: JsonDict = await self._call("POST", "templates/review", spec)
        return answer

    async def outbox(self) -> JsonDict:
        """Accepted and rejected sends."""
        answer: JsonDict = await self._call("GET", "outbox")
        return answer

    async def stats(self) -> JsonDict:
        """Counters and the busiest second."""
        answer: JsonDict = await self._call("GET", "stats")
        return answer

    async def reset(self) -> None:
        """Back to the configured start."""
        await self._call("POST", "reset")


@dataclass
class Received:
    """One webhook POST as it arrived."""

    body: bytes
    signature: str | None
    answered: int

    def json(self) -> JsonDict:
        """The body parsed."""
        parsed: JsonDict = orjson.loads(self.body)
        return parsed

    def signed_with(self, app_secret: str) -> bool:
        """Whether the signature header matches the exact bytes."""
        return self.signature == sign(app_secret, self.body)


@dataclass
class WebhookReceiver:
    """A loopback HTTP server that records webhooks; the first ``fail_first`` get 500."""

    fail_first: int = 0
    fail_status: int = 500
    delay_s: float = 0.0  # how long each answer takes
    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(self.delay_s)
        failing = sum(1 for r in self.received if r.answered != 200) < self.fail_first
        status = self.fail_status if failing else 200
        self.received.append(Received(body, request.headers.get("X-Hub-Signature-256"), status))
        self._arrived.set()
        return web.Response(status=status, text="ok")

    async def start(self) -> str:
        """Listen on a free loopback port; return the URL to give the simulator."""
        app = web.Application()
        app.router.add_post("/webhook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/webhook"
        return self.url

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    def accepted(self) -> list[Received]:
        """The posts answered with 200."""
        return [r for r in self.received if r.answered == 200]

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Wait until ``count`` posts were answered 200; return them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.accepted()) < count:
            self._arrived.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"got {len(self.accepted())} webhooks, wanted {count}")
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                continue
        return self.accepted()

    def statuses(self) -> list[JsonDict]:
        """Every ``statuses[]`` element received (accepted posts), in arrival order."""
        found: list[JsonDict] = []
        for post in self.accepted():
            for entry in post.json().get("entry", []):
                for change in entry.get("changes", []):
                    found.extend(change.get("value", {}).get("statuses", []))
        return found
