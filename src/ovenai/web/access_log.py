"""Access log: one line per request with its method, route template, status and duration.

Never the raw path nor the query string: paths carry lead ids and phone numbers
(``/api/v1/leads?phone=...``, a search), and queries Meta's verify token. The path logged is
the template of the route that answered (``/api/v1/leads/{lead_id}``), or ``<no route>``.
Uvicorn's own access log prints the full request line, so it is off (:mod:`ovenai.cli.serving`)
and `create_app` installs this middleware when ``OVENAI_ACCESS_LOG`` is on (the default).
Meta's webhook path is answered before it and is not logged (its volume is in the metrics).
The fields go to JSON lines as ``method``, ``path``, ``status`` and ``duration_ms``
(:mod:`ovenai.logs`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("ovenai.access")
NO_ROUTE = "<no route>"


def path_template(scope: Scope) -> str:
    """The path with the values of the route's parameters put back as ``{names}``
    (``/api/v1/leads/{lead_id}``); ``<no route>`` when no route matched."""
    if "endpoint" not in scope:
        return NO_ROUTE
    segments = str(scope["path"]).split("/")
    params: dict[str, Any] = scope.get("path_params") or {}
    for name, value in params.items():
        text = str(value)
        if not text:
            continue
        width = text.count("/") + 1  # a {path} parameter spans segments
        for start in range(len(segments) - width, -1, -1):
            if "/".join(segments[start : start + width]) == text:
                segments[start : start + width] = [f"{{{name}}}"]
                break
    return "/".join(segments)


class AccessLog:
    """ASGI middleware writing one line per HTTP request, raw path and query left out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
            method, path = scope["method"], path_template(scope)
            log.info(
                "%s %s %d %.1fms",
                method,
                path,
                status,
                elapsed_ms,
                extra={"method": method, "path": path, "status": status, "duration_ms": elapsed_ms},
            )
