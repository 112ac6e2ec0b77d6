"""HTTP handlers of the control API (never part of Meta's surface)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ovenai.simulator import control
from ovenai.simulator.meta_errors import MetaError
from ovenai.simulator.state import SimulatorState


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class ControlRoutes:
    """``/_sim/*`` handlers bound to one simulator state."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    async def _spec(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            spec = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise MetaError(100, "The control request body is not valid JSON.") from None
        if not isinstance(spec, dict):
            raise MetaError(100, "The control request body must be a JSON object.")
        return spec

    async def inbound(self, request: Request) -> Response:
        """POST /_sim/inbound: deliver a user's message as a signed webhook."""
        try:
            return _json(await control.deliver_inbound(self.state, await self._spec(request)))
        except MetaError as error:
            return _json(error.envelope(), 400)

    async def faults(self, request: Request) -> Response:
        """POST /_sim/faults: inject failures (see ovenai.simulator.faults)."""
        try:
            return _json(control.apply_faults(self.state, await self._spec(request)))
        except (MetaError, TypeError, ValueError, AttributeError) as error:
            return _json({"error": {"message": str(error), "code": 100}}, 400)

    async def config(self, request: Request) -> Response:
        """GET or POST /_sim/config: read or change live settings (webhook_url ...)."""
        if request.method == "GET":
            return _json(control.live_settings(self.state))
        try:
            return _json(control.apply_config(self.state, await self._spec(request)))
        except MetaError as error:
            return _json(error.envelope(), 400)

    async def personas(self, request: Request) -> Response:
        """GET or POST /_sim/personas: the scripted users who answer our messages."""
        if request.method == "GET":
            return _json(control.list_personas(self.state))
        try:
            return _json(control.set_personas(self.state, await self._spec(request)))
        except (MetaError, TypeError, ValueError) as error:
            message = error.envelope() if isinstance(error, MetaError) else None
            return _json(message or {"error": {"message": str(error), "code": 100}}, 400)

    async def reset(self, request: Request) -> Response:
        """POST /_sim/reset: back to the configured start (templates re-seeded)."""
        self.state.reset()
        return _json({"reset": True})

    async def outbox(self, request: Request) -> Response:
        """GET /_sim/outbox: accepted sends in order, rejected ones, mark-read calls."""
        return _json(control.outbox(self.state))

    async def stats(self, request: Request) -> Response:
        """GET /_sim/stats: counters and the busiest second observed."""
        return _json(self.state.stats())

    async def webhooks(self, request: Request) -> Response:
        """GET /_sim/webhooks: the recent webhook deliveries with their outcome."""
        return _json([delivery.summary() for delivery in self.state.dispatcher.log])

    async def review(self, request: Request) -> Response:
        """POST /_sim/templates/review: decide pending templates now."""
        return _json(control.review_now(self.state, await self._spec(request)))

    async def media_faults(self, request: Request) -> Response:
        """POST /_sim/media/faults: fail, corrupt or expire the next downloads."""
        try:
            return _json(self.state.media.apply_faults(await self._spec(request)))
        except (MetaError, TypeError, ValueError) as error:
            return _json({"error": {"message": str(error), "code": 100}}, 400)

    async def media_clock(self, request: Request) -> Response:
        """POST /_sim/media/clock: age the issued media URLs by ``advance_s`` seconds."""
        spec = await self._spec(request)
        return _json(self.state.media.advance(float(spec.get("advance_s", 0))))

    def routes(self) -> list[Route]:
        """The control routes."""
        return [
            Route("/_sim/inbound", self.inbound, methods=["POST"]),
            Route("/_sim/faults", self.faults, methods=["POST"]),
            Route("/_sim/config", self.config, methods=["GET", "POST"]),
            Route("/_sim/reset", self.reset, methods=["POST"]),
            Route("/_sim/personas", self.personas, methods=["GET", "POST"]),
            Route("/_sim/outbox", self.outbox, methods=["GET"]),
            Route("/_sim/stats", self.stats, methods=["GET"]),
            Route("/_sim/webhooks", self.webhooks, methods=["GET"]),
            Route("/_sim/templates/review", self.review, methods=["POST"]),
            Route("/_sim/media/faults", self.media_faults, methods=["POST"]),
            Route("/_sim/media/clock", self.media_clock, methods=["POST"]),
        ]
