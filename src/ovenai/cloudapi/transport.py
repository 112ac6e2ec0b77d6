"""The raw layer: one outbound HTTP funnel to the Graph API (dict in, dict out).

Every call has a timeout, is counted in :mod:`ovenai.metrics` under its endpoint kind,
and either returns Meta's JSON object or raises a typed error of
:mod:`ovenai.cloudapi.errors`. The access token is sent in a header and never logged.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from ovenai import metrics
from ovenai.cloudapi import classify, errors, timings
from ovenai.cloudapi.connections import Answer, ConnectionPool

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v25.0"
JsonDict = dict[str, Any]


class GraphTransport:
    """Authenticated Graph API calls over one pool of keep-alive connections."""

    def __init__(
        self,
        *,
        access_token: str,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        pool: ConnectionPool | None = None,
        max_connections: int = 100,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.root = f"{self.base_url}/{api_version}"
        self._prefix = urlsplit(self.base_url).path  # a base URL may carry a path
        self._auth = f"Authorization: Bearer {access_token}\r\n".encode()
        self._json_headers = self._auth + b"Content-Type: application/json\r\n"
        self._timeout = timeout
        self._pool = pool or ConnectionPool(
            self.base_url, limit=max_connections, connect_timeout=connect_timeout
        )
        self._owns_pool = pool is None
        self._counters: dict[tuple[str, str], Any] = {}
        self._latencies: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"GraphTransport(root={self.root!r})"

    async def aclose(self) -> None:
        """Close the connections if this transport opened them."""
        if self._owns_pool:
            await self._pool.aclose()

    def url(self, path: str) -> str:
        """Absolute URL of a Graph path such as ``"123/messages"``."""
        return f"{self.root}/{path.lstrip('/')}"

    def _target(self, path: str) -> str:
        """The request target of a Graph path, or of an absolute URL under ``base_url``."""
        if path.startswith(self.base_url + "/"):
            return self._prefix + path[len(self.base_url) :]
        return f"{self._prefix}/{self.api_version}/{path.lstrip('/')}"

    async def post(self, path: str, body: Mapping[str, Any], *, endpoint: str) -> JsonDict:
        """POST a JSON body to a Graph path and return Meta's JSON answer."""
        data = orjson.dumps(body)
        return await self.call("POST", self._target(path), endpoint, self._json_headers, data)

    async def get(
        self, path: str, *, endpoint: str, params: Mapping[str, str] | None = None
    ) -> JsonDict:
        """GET a Graph path (or an absolute URL under ``base_url``) with query params."""
        target = self._target(path)
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        return await self.call("GET", target, endpoint, self._auth)

    async def post_form(self, path: str, form: Multipart, *, endpoint: str) -> JsonDict:
        """POST a multipart form (media upload) to a Graph path."""
        headers = self._auth + f"Content-Type: {form.content_type}\r\n".encode()
        return await self.call("POST", self._target(path), endpoint, headers, form.body)

    async def call(
        self, method: str, target: str, endpoint: str, headers: bytes, body: bytes = b""
    ) -> JsonDict:
        """Do one request, record its latency and outcome, return JSON or raise typed."""
        started = time.perf_counter()
        try:
            answer = await self._exchange(method, target, endpoint, headers, body)
            decoded = _decode(answer.status, answer.body)
        except errors.CloudApiFailure as exc:
            self._record(endpoint, exc.kind.value, started)
            log.debug("graph %s %s failed: %r", method, endpoint, exc)
            raise
        self._record(endpoint, "ok", started)
        return decoded

    async def _exchange(
        self, method: str, target: str, endpoint: str, headers: bytes, body: bytes
    ) -> Answer:
        try:
            return await self._pool.request(
                method, target, headers=headers, body=body, timeout=self._timeout
            )
        except TimeoutError:
            raise classify.timed_out(endpoint, self._timeout) from None
        except OSError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise classify.connection_failed(endpoint, reason) from None

    def _record(self, endpoint: str, outcome: str, started: float) -> None:
        key = (endpoint, outcome)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = metrics.CLOUDAPI_REQUESTS.labels(endpoint, outcome)
        counter.inc()
        latency = self._latencies.get(endpoint)
        if latency is None:
            latency = self._latencies[endpoint] = metrics.CLOUDAPI_LATENCY.labels(endpoint)
        seconds = time.perf_counter() - started
        latency.observe(seconds)
        timings.note(endpoint, seconds, failed=outcome != "ok")


@dataclass(frozen=True, slots=True)
class Multipart:
    """A ``multipart/form-data`` body: text fields and one file."""

    body: bytes
    content_type: str

    @classmethod
    def build(
        cls, fields: Mapping[str, str], *, name: str, data: bytes, filename: str, mime_type: str
    ) -> Multipart:
        """Encode the fields, then the file part (RFC 7578)."""
        boundary = secrets.token_hex(16)
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
            for key, value in fields.items()
        ]
        safe_name = filename.replace('"', "").replace("\r", "").replace("\n", "")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{safe_name}"\r\nContent-Type: {mime_type}\r\n\r\n'
        )
        body = "".join(parts).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return cls(body, f"multipart/form-data; boundary={boundary}")


def _decode(status: int, raw: bytes) -> JsonDict:
    """Parse Meta's answer; raise the typed error for error envelopes and non-JSON bodies."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise classify.unexpected_body(status, raw.decode("utf-8", "replace")) from None
    if not isinstance(body, dict):
        raise classify.unexpected_body(status, raw.decode("utf-8", "replace"))
    if status >= 400 or "error" in body:
        raise classify.from_response(status, body)
    return body
