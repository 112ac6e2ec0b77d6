"""The simulator as an ASGI app: Meta's Graph paths plus the ``/_sim`` control API.

Plain Starlette with orjson was chosen by measurement over FastAPI (see bench/README.md):
the hot path is one route, one JSON parse and one small JSON answer.

Unknown and expired Graph versions (v17.0 ... v20.0) are answered with code 100 and a
detail naming the live versions, rather than silently served as a newer version: a stale
version in our configuration should fail loudly in tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from ovenai.simulator import graph
from ovenai.simulator.config import SimulatorConfig
from ovenai.simulator.control_routes import ControlRoutes
from ovenai.simulator.faults import SendFault
from ovenai.simulator.messaging import handle_send
from ovenai.simulator.meta_errors import MetaError, auth_error
from ovenai.simulator.state import SimulatorState

JsonDict = dict[str, Any]
Handler = Callable[[Request], Awaitable[Response]]
EDGES = {"messages": "messages", "media": "media", "message_templates": "templates"}
HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    "<body><h1>Bad Gateway</h1></body></html>"
)


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON answer serialised with orjson."""
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def fault_response(fault: SendFault) -> Response:
    """The injected answer: Meta error, bare 5xx, HTML page or a non-JSON body."""
    if fault.kind == "error":
        error = MetaError(fault.code, http_status=fault.status)
        return json_response(error.envelope(), error.status)
    status = fault.status or 500
    if fault.kind == "html":
        return HTMLResponse(HTML_PAGE, status_code=status)
    if fault.kind == "non_json":
        return PlainTextResponse(
            "upstream connect error or disconnect/reset before headers", status
        )
    if fault.code:
        return json_response(MetaError(fault.code, http_status=status).envelope(), status)
    return json_response(
        {"error": {"message": "Service temporarily unavailable", "type": "ServerError"}}, status
    )


class GraphRoutes:
    """Handlers of Meta's paths, bound to one simulator state."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def _authorized(self, request: Request) -> bool:
        token = self.state.settings.access_token
        header = request.headers.get("authorization", "")
        return header == f"Bearer {token}" or request.query_params.get("access_token") == token

    def _check_version(self, version: str) -> None:
        live = self.state.settings.live_versions
        if version not in live:
            details = (
                f"Graph API version {version} is unknown or expired; use one of {', '.join(live)}."
            )
            raise MetaError(100, details, subcode=2635)

    async def edge(self, request: Request) -> Response:
        """``/{version}/{node}/{edge}``: version, token, faults, then the edge's handler."""
        params = request.path_params
        endpoint = EDGES.get(params["edge"])
        try:
            self._check_version(params["version"])
            if not self._authorized(request):
                return json_response(auth_error(), 401)
            if endpoint is None:
                raise _unsupported(request.method, params["node"])
            body = await _json_body(request) if request.method == "POST" else None
            return await self._faulted(request, endpoint, body)
        except MetaError as error:
            return json_response(error.envelope(), error.status)

    async def _faulted(self, request: Request, endpoint: str, body: Any) -> Response:
        recipient = _recipient(body)
        delay = self.state.faults.take_delay(endpoint, recipient)
        if delay:
            await asyncio.sleep(delay)
        fault = self.state.faults.take_answer(endpoint, recipient)
        if fault is not None:
            self.state.count(f"fault_{fault.kind}")
            return fault_response(fault)
        return json_response(self._dispatch(request, endpoint, body))

    def _dispatch(self, request: Request, endpoint: str, body: Any) -> JsonDict:
        node = request.path_params["node"]
        if endpoint == "templates":
            if request.method == "GET":
                page_url = str(request.url.replace(query=""))
                return graph.list_templates(self.state, node, dict(request.query_params), page_url)
            return graph.create_template(self.state, node, body)
        if node != self.state.settings.phone_number_id or request.method != "POST":
            raise _unsupported(request.method, node)
        if endpoint == "media":
            return graph.upload_media(self.state)
        return handle_send(self.state, body)

    async def unknown(self, request: Request) -> Response:
        """Any other path: Meta's "unsupported request" answer."""
        return json_response(_unsupported(request.method, request.url.path).envelope(), 400)


def _unsupported(method: str, node: str) -> MetaError:
    details = (
        f"Unsupported {method.lower()} request. Object with ID '{node}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation."
    )
    return MetaError(100, details, subcode=33)


async def _json_body(request: Request) -> Any:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form() as form:
            return {key: "<file>" for key in form}
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MetaError(100, "The request body is not valid JSON.") from None


def _recipient(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    if body.get("to"):
        return "".join(ch for ch in str(body["to"]) if ch.isdigit())
    return str(body["recipient"]) if body.get("recipient") else None


def create_simulator_app(config: SimulatorConfig | None = None) -> Starlette:
    """Build the simulator app; its state is reachable as ``app.state.simulator``."""
    state = SimulatorState(config or SimulatorConfig())
    graph_routes = GraphRoutes(state)
    methods = ["GET", "POST", "DELETE"]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.dispatcher.start()
        yield
        await state.dispatcher.stop()

    routes = [
        *ControlRoutes(state).routes(),
        Route("/{version}/{node}/{edge}", graph_routes.edge, methods=methods),
        Route("/{path:path}", graph_routes.unknown, methods=methods),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.simulator = state
    return app
