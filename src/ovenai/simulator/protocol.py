"""uvicorn's httptools protocol, answering plain sends itself in one write.

Per request uvicorn spends more than the simulator's own work: an ASGI cycle with an
event and a task, a regex check of every header, and the headers and the body in two
writes. A send that needs nothing asynchronous is answered as soon as its body is parsed,
framed exactly as uvicorn frames it (its ``date`` and ``server`` headers, ``connection:
close`` when the connection ends); every other request goes through uvicorn to the ASGI
app unchanged. Measured with bench/simulator_load.py on the 2-core box: simulator CPU per
send ~150 µs through the raw ASGI path, ~105 µs answered here.

It relies on uvicorn's protocol internals: pyproject pins uvicorn, and
tests/simulator/test_send_protocol.py checks the bytes it writes against uvicorn's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ovenai.simulator.app import SimulatorApp
from ovenai.simulator.edges import TEXT, Answer
from ovenai.simulator.send_path import MULTIPART, Route, SendEndpoint, path_route, request_headers

SERVER_ERROR = Answer(500, b"Internal Server Error", TEXT)


@dataclass(slots=True)
class PlainSend:
    """A send being read: who answers it, its route, token, query and body so far."""

    endpoint: SendEndpoint
    route: Route
    authorization: str
    query: bytes
    chunks: list[bytes] = field(default_factory=list)


class SendProtocol(HttpToolsProtocol):
    """The protocol uvicorn serves the simulator with (``uvicorn_config`` sets it)."""

    plain_send: PlainSend | None = None

    def on_headers_complete(self) -> None:
        """Keep a plain send for ourselves; give anything else to uvicorn."""
        self.plain_send = self._plain_send()
        if self.plain_send is None:
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        """Collect a plain send's body, or let uvicorn queue it for the app."""
        if self.plain_send is None:
            super().on_body(body)
        else:
            self.plain_send.chunks.append(body)

    def on_message_complete(self) -> None:
        """Answer a plain send now, or let uvicorn tell the app the body is complete."""
        plain, self.plain_send = self.plain_send, None
        if plain is None:
            super().on_message_complete()
        elif not self.transport.is_closing():
            self._answer(plain)

    def _plain_send(self) -> PlainSend | None:
        app = self.config.app
        if not isinstance(app, SimulatorApp) or not self._passes_through():
            return None
        if app.send_endpoint.state.faults.delays:  # a delay needs the loop: ASGI path
            return None
        url = httptools.parse_url(self.url)
        route = _route(url.path)
        authorization, content_type = request_headers(self.headers)
        if route is None or content_type.startswith(MULTIPART):
            return None
        return PlainSend(app.send_endpoint, route, authorization, url.query or b"")

    def _passes_through(self) -> bool:
        """Whether uvicorn would only hand this request on: a POST it need not wait for."""
        cycle = self.cycle
        # The configured access log, not self.access_log: uvicorn also logs whenever its
        # logger has handlers (pytest adds some), though the simulator asks for no log.
        return (
            (cycle is None or cycle.response_complete)
            and not self.pipeline
            and not self.expect_100_continue
            and self.parser.get_method() == b"POST"
            and not self.parser.should_upgrade()
            and self.limit_concurrency is None
            and not self.root_path
            and not self.config.access_log
        )

    def _answer(self, plain: PlainSend) -> None:
        """Write the whole answer at once, then what uvicorn does after a response."""
        parser = self.parser
        keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
        raw = b"".join(plain.chunks)
        try:
            answer = plain.endpoint.answer_now(plain.route, plain.authorization, plain.query, raw)
            framed = self._framed(answer, keep_alive)  # an injected status may be out of range
        except Exception:
            self.logger.exception("Exception in ASGI application")
            keep_alive = False
            framed = self._framed(SERVER_ERROR, keep_alive)
        self.transport.write(framed)
        self.server_state.total_requests += 1
        if not keep_alive:
            self.transport.close()
            return
        # Cancel first: with several sends in one read, each would otherwise arm a timer.
        self._unset_keepalive_if_required()
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def _framed(self, answer: Answer, keep_alive: bool) -> bytes:
        """Status line, uvicorn's default headers, ours, then the body: one buffer."""
        parts = [STATUS_LINE[answer.status]]
        for name, value in self.server_state.default_headers:
            parts += (name, b": ", value, b"\r\n")
        parts += (b"content-length: ", b"%d" % len(answer.body), b"\r\n")
        parts += (b"content-type: ", answer.content_type, b"\r\n")
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        parts += (b"\r\n", answer.body)
        return b"".join(parts)


def _route(path: bytes) -> Route | None:
    """``(version, node)`` of a send path that needs no decoding, else ``None``."""
    # uvicorn unescapes "%" and refuses non-ASCII paths: leave both to it.
    if b"%" in path or not path.isascii():
        return None
    return path_route(path.decode())
