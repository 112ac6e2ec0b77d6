"""A request-body size limit on every route, enforced while the body streams in.

A body whose Content-Length is over the limit is answered 413 before a byte of it is read;
a body without one (chunked) is counted as it arrives and refused once past the limit, so no
route ever buffers more than the limit. Meta's webhook path is answered before this
middleware and keeps its own, larger limit (:mod:`ovenai.ingest.receiver`).
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ovenai.web.security import HEADERS as SECURITY_HEADERS

_JSON = (b"content-type", b"application/json")
# Handed to the app in place of the rest of a too-large body: it stops reading, as when a
# client goes away, and its answer is replaced by the 413.
_CUT_OFF: Message = {"type": "http.disconnect"}


def declared_length(scope: Scope) -> int | None:
    """The Content-Length header as a number (None when absent or malformed)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def refuse(send: Send, limit: int) -> None:
    """Answer 413 with the API's error shape and the security headers."""
    message = f"the request body is larger than {limit} bytes"
    body = json.dumps({"error": "PayloadTooLarge", "message": message, "field": None}).encode()
    length = (b"content-length", str(len(body)).encode())
    # The rest of the body is never read: the connection cannot be reused for another request.
    headers = [_JSON, length, (b"connection", b"close"), *SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


FILE_UPLOADS = re.compile(r"^(/api/v1)?/properties/[^/]+/files/?$")
"""Where a listing's photo or brochure is posted: these bodies may be larger."""
FILE_UPLOAD_BYTES = 21 * 1024 * 1024
"""A brochure of 20 MiB (ovenai.property_files) and its form's framing."""


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes with 413 (over
    :data:`FILE_UPLOAD_BYTES` for a listing's file uploads, if that is larger)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def limit_for(self, scope: Scope) -> int:
        """The limit of this request's body."""
        if scope.get("method") == "POST" and FILE_UPLOADS.match(scope.get("path", "")):
            return max(self.limit, FILE_UPLOAD_BYTES)
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a declared-too-large body at once; count any other as it streams."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await refuse(send, limit)
            return
        await _CountedRequest(self, limit, receive, send).run(scope)


class _CountedRequest:
    """One request whose body is counted; past the limit its answer becomes the 413."""

    def __init__(self, middleware: BodyLimit, limit: int, receive: Receive, send: Send) -> None:
        self.middleware, self.downstream_receive, self.downstream_send = middleware, receive, send
        self.limit = limit
        self.received = 0
        self.over = False
        self.answered = False

    async def run(self, scope: Scope) -> None:
        """Run the app; answer 413 instead of it when the body went past the limit."""
        try:
            await self.middleware.app(scope, self.receive, self.send)
        except Exception:
            if not self.over:
                raise
        if self.over and not self.answered:
            await refuse(self.downstream_send, self.limit)

    async def receive(self) -> Message:
        """The next body part; a cut-off once the body has gone past the limit."""
        if self.over:
            return _CUT_OFF
        message = await self.downstream_receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit and not self.answered:
                self.over = True
                return _CUT_OFF
        return message

    async def send(self, message: Message) -> None:
        """Pass the app's answer on, unless the body was refused (the 413 replaces it)."""
        if self.over and not self.answered:
            return
        if message["type"] == "http.response.start":
            self.answered = True
        await self.downstream_send(message)
