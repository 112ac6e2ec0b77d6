"""The simulator as an ASGI app: Meta's Graph paths plus the ``/_sim`` control API.

Plain Starlette with orjson was chosen by measurement over FastAPI (see bench/README.md),
and the send route, the one every benchmark hammers, is answered as raw ASGI before
Starlette (:mod:`ovenai.simulator.send_path`); both use :mod:`ovenai.simulator.edges`.

Unknown and expired Graph versions (v17.0 ... v20.0) are answered with code 100 and a
detail naming the live versions, rather than silently served as a newer version: a stale
version in our configuration should fail loudly in tests.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ovenai.simulator import account, graph, media
from ovenai.simulator.config import SimulatorConfig
from ovenai.simulator.control_routes import ControlRoutes
from ovenai.simulator.edges import (
    Answer,
    check_token,
    check_version,
    error_answer,
    faulted,
    json_answer,
    parse_json,
    unsupported,
)
from ovenai.simulator.messaging import handle_send
from ovenai.simulator.meta_errors import MetaError
from ovenai.simulator.send_path import SendEndpoint, send_route
from ovenai.simulator.state import SimulatorState

JsonDict = dict[str, Any]
EDGES = {"messages": "messages", "media": "media", "message_templates": "templates"}


def response(answer: Answer) -> Response:
    """A Starlette response carrying an answer."""
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type.decode())


class GraphRoutes:
    """Starlette handlers of Meta's paths (all but plain sends), bound to one state."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    async def edge(self, request: Request) -> Response:
        """``/{version}/{node}/{edge}``: version, token, faults, then the edge's handler."""
        return response(await self._answer(request))

    async def _answer(self, request: Request) -> Answer:
        params, settings = request.path_params, self.state.settings
        endpoint = EDGES.get(params["edge"]) or (
            params["edge"] if params["edge"] in account.EDGES else None
        )
        try:
            check_version(settings, params["version"])
            authorization = request.headers.get("authorization", "")
            check_token(settings, authorization, request.scope["query_string"])
            if endpoint is None:
                raise unsupported(request.method, params["node"])
            body = await _json_body(request) if request.method == "POST" else None
            dispatch = functools.partial(self._dispatch, request, endpoint, body)
            return await faulted(self.state, endpoint, body, dispatch)
        except MetaError as error:
            return error_answer(error)

    def _dispatch(self, request: Request, endpoint: str, body: Any) -> JsonDict:
        node = request.path_params["node"]
        if endpoint in account.EDGES:
            return account.answer(self.state, request.method, node, endpoint, body)
        if endpoint == "templates":
            if request.method == "GET":
                page_url = str(request.url.replace(query=""))
                return graph.list_templates(self.state, node, dict(request.query_params), page_url)
            return graph.create_template(self.state, node, body)
        if node != self.state.settings.phone_number_id or request.method != "POST":
            raise unsupported(request.method, node)
        if endpoint == "media":
            return graph.upload_media(self.state, body if isinstance(body, dict) else {})
        return handle_send(self.state, body)

    async def node(self, request: Request) -> Response:
        """``GET /{version}/{media-id}``: the media's short-lived URL and declaration."""
        params, settings = request.path_params, self.state.settings
        try:
            check_version(settings, params["version"])
            authorization = request.headers.get("authorization", "")
            check_token(settings, authorization, request.scope["query_string"])
            if params["node"] == "me":
                return response(json_answer(account.me()))
            base_url = str(request.base_url)
            info = self.state.media.info(params["node"], base_url, self.state.now())
            self.state.count("media_info")
            return response(json_answer(info))
        except MetaError as error:
            return response(error_answer(error))

    async def media_download(self, request: Request) -> Response:
        """The media URL: the bytes for the bearer token, until the URL expires."""
        try:
            authorization = request.headers.get("authorization", "")
            check_token(self.state.settings, authorization, b"")
        except MetaError as error:
            return response(error_answer(error))
        token = request.query_params.get("hash", "")
        answer = Answer(*self.state.media.download(token, self.state.now()))
        self.state.count(f"media_download_{answer.status}")
        return response(answer)

    async def unknown(self, request: Request) -> Response:
        """Any other path: Meta's "unsupported request" answer."""
        return response(error_answer(unsupported(request.method, request.url.path)))


async def _json_body(request: Request) -> Any:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        # A media upload: the text fields, and the file's bytes with the part's type.
        async with request.form(max_part_size=100 * 1024 * 1024) as form:
            found: dict[str, Any] = {}
            for key, value in form.multi_items():
                if isinstance(value, str):
                    found[key] = value
                else:
                    found[key] = await value.read()
                    found[f"{key}_type"] = value.content_type or ""
            return found
    return parse_json(await request.body())


class SimulatorApp(Starlette):
    """Starlette, with sends answered before its middleware and routing."""

    def __init__(self, state: SimulatorState, **options: Any) -> None:
        super().__init__(**options)
        self.state.simulator = state
        self.send_endpoint = SendEndpoint(state, super().__call__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand sends to the raw endpoint, everything else to Starlette."""
        route = send_route(scope)
        if route is not None:
            await self.send_endpoint(scope, receive, send, route)
            return
        await super().__call__(scope, receive, send)


def create_simulator_app(config: SimulatorConfig | None = None) -> SimulatorApp:
    """Build the simulator app; its state is reachable as ``app.state.simulator``."""
    state = SimulatorState(config or SimulatorConfig())
    graph_routes = GraphRoutes(state)
    methods = ["GET", "POST", "DELETE"]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.dispatcher.start()
        # What exists now lives as long as the process: keep it out of full collections,
        # whose pauses would bunch arrivals together and distort the per-second cap.
        gc.freeze()
        yield
        await state.dispatcher.stop()

    routes = [
        *ControlRoutes(state).routes(),
        Route(media.DOWNLOAD_PATH, graph_routes.media_download, methods=["GET"]),
        Route("/{version}/{node}", graph_routes.node, methods=["GET"]),
        Route("/{version}/{node}/{edge}", graph_routes.edge, methods=methods),
        Route("/{path:path}", graph_routes.unknown, methods=methods),
    ]
    return SimulatorApp(state, routes=routes, lifespan=lifespan)
