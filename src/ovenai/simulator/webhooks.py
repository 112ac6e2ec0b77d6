"""Signed webhook delivery, byte-for-byte the way Meta sends it.

Bodies are JSON with every non-ASCII character escaped as lowercase ``\\uXXXX`` (emoji as
surrogate pairs) and ``/`` as ``\\/``; ``X-Hub-Signature-256`` is the HMAC-SHA256 of exactly
those bytes with the app secret. A delivery that does not get HTTP 200 is retried with
exponential backoff, a bounded number of times.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from ovenai.simulator.config import SimulatorConfig
from ovenai.simulator.faults import Faults

log = logging.getLogger(__name__)
JsonDict = dict[str, Any]


def meta_json(payload: Any) -> bytes:
    """Serialise like Meta: compact, ASCII-only with ``\\uXXXX`` escapes, ``/`` as ``\\/``."""
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    # "/" only occurs inside JSON strings, so escaping every one keeps the JSON valid.
    return text.replace("/", "\\/").encode("ascii")


def sign(app_secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256`` header value for a body."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass
class Delivery:
    """The outcome of delivering one webhook body."""

    kind: str
    body: bytes
    url: str | None
    http_status: int | None = None
    attempts: int = 0
    delivered: bool = False
    duplicate: bool = False

    def summary(self) -> JsonDict:
        """JSON view for the control API."""
        return {
            "kind": self.kind,
            "url": self.url,
            "http_status": self.http_status,
            "attempts": self.attempts,
            "delivered": self.delivered,
            "duplicate": self.duplicate,
            "body": self.body.decode("ascii"),
        }


class WebhookDispatcher:
    """Posts webhooks to the configured URL from the simulator's event loop."""

    def __init__(
        self,
        settings: SimulatorConfig,
        faults: Callable[[], Faults],
        statuses_envelope: Callable[[list[JsonDict]], JsonDict],
        count: Callable[[str], None] = lambda _key: None,
    ) -> None:
        self.settings = settings
        self._faults = faults
        self._statuses_envelope = statuses_envelope
        self._count = count  # the simulator's stats: webhooks delivered, given up
        self.log: deque[Delivery] = deque(maxlen=2000)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending: list[JsonDict] = []
        self._flush: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        """Open the dispatcher's own HTTP session (call inside the serving loop)."""
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        """Cancel deliveries in flight and close the session."""
        if self._flush is not None:
            self._flush.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def reset(self) -> None:
        """Forget pending statuses, deliveries in flight and the delivery log."""
        self._pending.clear()
        for task in list(self._tasks):
            task.cancel()
        self.log.clear()

    def send(self, envelope: JsonDict, kind: str) -> asyncio.Task[Delivery]:
        """Serialise, sign and deliver one envelope in the background."""
        task = asyncio.get_running_loop().create_task(self._deliver_all(meta_json(envelope), kind))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def add_status(self, status: JsonDict) -> None:
        """Queue one status; statuses go out alone or in batches of ``webhook_batch_size``."""
        self._pending.append(status)
        if len(self._pending) >= self.settings.webhook_batch_size:
            self.flush()
        elif self._flush is None:
            loop = asyncio.get_running_loop()
            self._flush = loop.call_later(self.settings.webhook_batch_wait_s, self.flush)

    def flush(self) -> None:
        """Send every queued status now."""
        self._flush = None
        size = max(1, self.settings.webhook_batch_size)
        while self._pending:
            batch, self._pending = self._pending[:size], self._pending[size:]
            self.send(self._statuses_envelope(batch), "statuses")

    async def _deliver_all(self, body: bytes, kind: str) -> Delivery:
        first = await self.deliver(body, kind)
        if self._faults().duplicate_webhooks and first.delivered:
            await self.deliver(body, kind, duplicate=True)
        return first

    async def deliver(self, body: bytes, kind: str, *, duplicate: bool = False) -> Delivery:
        """POST a body until HTTP 200 or the attempts run out."""
        delivery = Delivery(kind, body, self.settings.webhook_url, duplicate=duplicate)
        self.log.append(delivery)
        attempts = max(1, self.settings.webhook_retry_attempts)
        while delivery.url and delivery.attempts < attempts and not delivery.delivered:
            if delivery.attempts:
                await asyncio.sleep(
                    self.settings.webhook_retry_base_s * 2 ** (delivery.attempts - 1)
                )
            delivery.attempts += 1
            delivery.http_status = await self._post(delivery.url, body)
            delivery.delivered = delivery.http_status == 200
        self._count("webhooks_delivered" if delivery.delivered else "webhooks_given_up")
        return delivery

    async def _post(self, url: str, body: bytes) -> int | None:
        assert self._session is not None, "dispatcher not started"
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(self.settings.app_secret, body),
            "User-Agent": "facebookexternalua",
        }
        try:
            # The timeout is the product's (connecting, then answering), never the wait for one
            # of the pool's connections: under a burst, deliveries queue here as Meta's do,
            # instead of timing out before they were even sent and being given up.
            wait = self.settings.webhook_timeout_s
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=wait, sock_read=wait)
            async with self._session.post(
                url, data=body, headers=headers, timeout=timeout
            ) as answer:
                await answer.read()
                return answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("webhook delivery to %s failed: %s", url, type(exc).__name__)
            return None
