"""Meta's webhook endpoint: the GET handshake and the POST notifications (thin).

The POST is a plain Starlette route (no FastAPI dependency injection or response model
on the hot path): it streams the body into the receiver and shapes the status Meta sees.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from ovenai.errors import OvenAIError, PermissionDenied
from ovenai.webhooks.receiver import Receiver

PATH = "/api/webhooks/whatsapp"
_OK = b"ok"
# InvalidInput (422 elsewhere) means a malformed body here: Meta gets a plain 400.
_STATUS = {413: 413, 401: 401, 422: 400, 503: 503}


def _receiver(request: Request) -> Receiver:
    receiver: Receiver = request.app.state.webhooks
    return receiver


async def receive(request: Request) -> Response:
    """Store a verified notification, then 200; 401/413/400/503 otherwise (never stored)."""
    try:
        await _receiver(request).accept(request.stream(), request.headers)
    except OvenAIError as exc:
        status = _STATUS.get(exc.http_status, 500)
        return PlainTextResponse(exc.message, status_code=status)
    return Response(_OK, media_type="text/plain")


async def verify(request: Request) -> Response:
    """Meta's handshake: ``hub.challenge`` as plain text, or 403."""
    params = request.query_params
    try:
        challenge = _receiver(request).verify(
            params.get("hub.mode"), params.get("hub.verify_token"), params.get("hub.challenge")
        )
    except PermissionDenied as exc:
        return PlainTextResponse(exc.message, status_code=403)
    return PlainTextResponse(challenge)


router = APIRouter()
router.add_route(PATH, receive, methods=["POST"], include_in_schema=False)
router.add_route(PATH, verify, methods=["GET"], include_in_schema=False)
