"""The send route, ``POST /{version}/{node}/messages``, as raw ASGI ahead of Starlette.

Every send of every benchmark lands here, and the simulator shares the benchmark's cores
with the product, so the route skips Starlette's middleware, routing and Request/Response
objects (with uvloop and untracked outbox records: ~270 → ~150 µs of simulator CPU per
send, bench/simulator_load.py). It answers as the Starlette route does,
through the same helpers (:mod:`ovenai.simulator.edges`); a multipart body goes on to
Starlette, which parses forms. :mod:`ovenai.simulator.protocol` calls :meth:`answer_now`
without ASGI at all.
"""

from __future__ import annotations

import functools
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ovenai.simulator.edges import (
    Answer,
    check_token,
    check_version,
    error_answer,
    faulted,
    faulted_now,
    parse_json,
    unsupported,
)
from ovenai.simulator.messaging import handle_send
from ovenai.simulator.meta_errors import MetaError
from ovenai.simulator.state import SimulatorState

JsonDict = dict[str, Any]
Route = tuple[str, str]
MULTIPART = b"multipart/form-data"


class ClientGone(Exception):
    """The client disconnected before its body was read: nothing to answer."""


def send_route(scope: Scope) -> Route | None:
    """``(version, node)`` of a POST to ``/{version}/{node}/messages``, else ``None``."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    return path_route(scope["path"])


def path_route(path: str) -> Route | None:
    """``(version, node)`` of a ``/{version}/{node}/messages`` path, else ``None``."""
    parts = path.split("/")
    # Starlette's "/{version}/{node}/{edge}": three non-empty segments.
    if len(parts) != 4 or parts[3] != "messages" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class SendEndpoint:
    """Answers sends for one simulator state, over ASGI or straight from the protocol."""

    def __init__(self, state: SimulatorState, fallback: ASGIApp) -> None:
        self.state = state
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send, route: Route) -> None:
        """Answer one send over ASGI (``route`` as :func:`send_route` found it)."""
        authorization, content_type = request_headers(scope["headers"])
        if content_type.startswith(MULTIPART):
            await self.fallback(scope, receive, send)
            return
        try:
            raw = await read_body(receive)
        except ClientGone:
            return
        answer = await self.answer(route, authorization, scope["query_string"], raw)
        await respond(send, answer)

    async def answer(self, route: Route, authorization: str, query: bytes, raw: bytes) -> Answer:
        """Version, token, JSON, an injected delay or answer, then the send itself."""
        try:
            body = self._admit(route[0], authorization, query, raw)
            accept = functools.partial(self.accept, route[1], body, raw)
            return await faulted(self.state, "messages", body, accept)
        except MetaError as error:
            return error_answer(error)

    def answer_now(self, route: Route, authorization: str, query: bytes, raw: bytes) -> Answer:
        """The same answer at once, for when no injected delay is waiting."""
        try:
            body = self._admit(route[0], authorization, query, raw)
            accept = functools.partial(self.accept, route[1], body, raw)
            return faulted_now(self.state, "messages", body, accept)
        except MetaError as error:
            return error_answer(error)

    def _admit(self, version: str, authorization: str, query: bytes, raw: bytes) -> Any:
        check_version(self.state.settings, version)
        check_token(self.state.settings, authorization, query)
        return parse_json(raw)

    def accept(self, node: str, body: Any, raw: bytes) -> JsonDict:
        """The send on the configured number; any other node is "unsupported"."""
        if node != self.state.settings.phone_number_id:
            raise unsupported("POST", node)
        return handle_send(self.state, body, raw)


def request_headers(headers: list[tuple[bytes, bytes]]) -> tuple[str, bytes]:
    """The first ``authorization`` (latin-1, as Starlette reads it) and ``content-type``."""
    authorization: bytes | None = None
    content_type: bytes | None = None
    for name, value in headers:
        if name == b"authorization" and authorization is None:
            authorization = value
        elif name == b"content-type" and content_type is None:
            content_type = value
    return (authorization or b"").decode("latin-1"), content_type or b""


async def read_body(receive: Receive) -> bytes:
    """The whole request body (ClientGone if the client disconnects first)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def respond(send: Send, answer: Answer) -> None:
    """Send an answer with the headers Starlette's Response gave it."""
    headers = [
        (b"content-length", str(len(answer.body)).encode()),
        (b"content-type", answer.content_type),
    ]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
