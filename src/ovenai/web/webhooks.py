"""Meta's webhook endpoint as a raw ASGI app, answered before FastAPI's routing and middleware.

Every status and message Meta sends lands here, so this is the product's hottest path: the
application (:class:`ovenai.web.app.OvenAIApp`) hands :data:`~ovenai.endpoints.WEBHOOK_PATH` to
:class:`WebhookEndpoint`: no middleware stack, routing, Request object or dependency
injection. The body is streamed into the receiver, which checks and stores it before the
200; every answer carries the same security headers as the rest of the product. It is not
in the OpenAPI schema (it is Meta's callback, not our API).

* POST: 200 ``ok`` once stored; 413, 401, 400 or 503 otherwise (nothing stored).
* GET (and HEAD): Meta's handshake, ``hub.challenge`` as plain text or 403.
* Anything else: 405.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from ovenai.errors import OvenAIError, PermissionDenied
from ovenai.ingest.receiver import Receiver
from ovenai.web.security import HEADERS as SECURITY_HEADERS

# InvalidInput (422 elsewhere) means a malformed body here: Meta gets a plain 400.
_STATUS = {413: 413, 401: 401, 422: 400, 503: 503}
_TEXT = (b"content-type", b"text/plain; charset=utf-8")
_ALLOW = (b"allow", b"GET, HEAD, POST")


class ClientGone(Exception):
    """The client disconnected before its body was read: nothing to store or answer."""


class WebhookEndpoint:
    """The ASGI app serving the webhook path with a :class:`Receiver`."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request on the webhook path."""
        method = scope["method"]
        if method == "POST":
            try:
                status, text = await self.receive(scope, receive)
            except ClientGone:
                return
        elif method in ("GET", "HEAD"):
            status, text = self.verify(scope)
        else:
            await answer(send, 405, b"method not allowed", _ALLOW)
            return
        await answer(send, status, text.encode())

    async def receive(self, scope: Scope, receive: Receive) -> tuple[int, str]:
        """Store a verified notification: (200, "ok"), or the refusal Meta sees."""
        try:
            await self.receiver.accept(body_chunks(receive), request_headers(scope))
        except OvenAIError as exc:
            return _STATUS.get(exc.http_status, 500), exc.message
        return 200, "ok"

    def verify(self, scope: Scope) -> tuple[int, str]:
        """Meta's handshake: (200, the challenge) or (403, why)."""
        params = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        try:
            challenge = self.receiver.verify(
                params.get("hub.mode"), params.get("hub.verify_token"), params.get("hub.challenge")
            )
        except PermissionDenied as exc:
            return 403, exc.message
        return 200, challenge


def request_headers(scope: Scope) -> dict[str, str]:
    """The request headers by lower-case name (the first of repeated names wins)."""
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in reversed(scope["headers"])
    }


async def body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The request body as it arrives (ClientGone if the client disconnects first)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def answer(send: Send, status: int, body: bytes, *extra: tuple[bytes, bytes]) -> None:
    """A plain-text answer with the product's security headers."""
    headers = [_TEXT, (b"content-length", str(len(body)).encode()), *extra, *SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
