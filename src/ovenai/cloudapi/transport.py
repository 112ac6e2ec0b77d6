"""The raw layer: one outbound HTTP funnel to the Graph API (dict in, dict out).

Every call has a timeout, is counted in :mod:`ovenai.metrics` under its endpoint kind,
and either returns Meta's JSON object or raises a typed error of
:mod:`ovenai.cloudapi.errors`. The access token is sent in a header and never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from ovenai import metrics
from ovenai.cloudapi import classify, errors

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v25.0"
JsonDict = dict[str, Any]


class GraphTransport:
    """Authenticated Graph API calls over one pooled aiohttp session."""

    def __init__(
        self,
        *,
        access_token: str,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        session: aiohttp.ClientSession | None = None,
        max_connections: int = 100,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.root = f"{self.base_url}/{api_version}"
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        self._counters: dict[tuple[str, str], Any] = {}

    def __repr__(self) -> str:
        return f"GraphTransport(root={self.root!r})"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, json_serialize=_dumps
            )
        return self._session

    async def aclose(self) -> None:
        """Close the session if this transport created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path: str) -> str:
        """Absolute URL of a Graph path such as ``"123/messages"``."""
        return f"{self.root}/{path.lstrip('/')}"

    async def post(self, path: str, body: Mapping[str, Any], *, endpoint: str) -> JsonDict:
        """POST a JSON body to a Graph path and return Meta's JSON answer."""
        headers = {**self._headers, "Content-Type": "application/json"}
        data = orjson.dumps(body)  # bytes: aiohttp sends them as they are (no re-encoding)
        return await self.call("POST", self.url(path), endpoint, data=data, headers=headers)

    async def get(
        self, path: str, *, endpoint: str, params: Mapping[str, str] | None = None
    ) -> JsonDict:
        """GET a Graph path (or an absolute URL under ``base_url``) with query params."""
        url = path if path.startswith(self.base_url + "/") else self.url(path)
        return await self.call("GET", url, endpoint, params=params, headers=self._headers)

    async def post_form(self, path: str, form: aiohttp.FormData, *, endpoint: str) -> JsonDict:
        """POST a multipart form (media upload) to a Graph path."""
        return await self.call("POST", self.url(path), endpoint, data=form, headers=self._headers)

    async def call(self, method: str, url: str, endpoint: str, **kwargs: Any) -> JsonDict:
        """Do one request, record its latency and outcome, return JSON or raise typed."""
        started = time.perf_counter()
        try:
            status, raw = await self._exchange(method, url, endpoint, kwargs)
            body = _decode(status, raw)
        except errors.CloudApiFailure as exc:
            self._record(endpoint, exc.kind.value, started)
            log.debug("graph %s %s failed: %r", method, endpoint, exc)
            raise
        self._record(endpoint, "ok", started)
        return body

    async def _exchange(
        self, method: str, url: str, endpoint: str, kwargs: dict[str, Any]
    ) -> tuple[int, bytes]:
        try:
            async with self._client().request(method, url, timeout=self._timeout, **kwargs) as r:
                return r.status, await r.read()
        except TimeoutError:
            raise classify.timed_out(endpoint, self._timeout.total or 0.0) from None
        except aiohttp.ClientError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise classify.connection_failed(endpoint, reason) from None

    def _record(self, endpoint: str, outcome: str, started: float) -> None:
        key = (endpoint, outcome)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = metrics.CLOUDAPI_REQUESTS.labels(endpoint, outcome)
        counter.inc()
        metrics.CLOUDAPI_LATENCY.labels(endpoint).observe(time.perf_counter() - started)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


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
