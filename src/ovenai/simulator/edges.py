"""Meta's Graph edges as plain values: version and token checks, injected faults, answers.

Both ways in share these: the raw ASGI send path (:mod:`ovenai.simulator.send_path`) and
the Starlette routes of every other edge (:mod:`ovenai.simulator.app`), so a send gets
the same answer whichever way it arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import orjson

from ovenai.simulator.config import SimulatorConfig
from ovenai.simulator.faults import SendFault
from ovenai.simulator.meta_errors import InvalidToken, MetaError
from ovenai.simulator.sends import digits
from ovenai.simulator.state import SimulatorState

JsonDict = dict[str, Any]
JSON = b"application/json"
HTML = b"text/html; charset=utf-8"
TEXT = b"text/plain; charset=utf-8"
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>Bad Gateway</h1></body></html>"
)
NON_JSON = b"upstream connect error or disconnect/reset before headers"
SERVER_ERROR = {"error": {"message": "Service temporarily unavailable", "type": "ServerError"}}


class Answer(NamedTuple):
    """An HTTP answer: status, body and content type."""

    status: int
    body: bytes
    content_type: bytes = JSON


def json_answer(body: Any, status: int = 200) -> Answer:
    """A JSON answer serialised with orjson."""
    return Answer(status, orjson.dumps(body))


def error_answer(error: MetaError) -> Answer:
    """Meta's ``{"error": {...}}`` envelope with the error's HTTP status."""
    return json_answer(error.envelope(), error.status)


def fault_answer(fault: SendFault) -> Answer:
    """The injected answer: Meta error, bare 5xx, HTML page or a non-JSON body."""
    if fault.kind == "error":
        return error_answer(MetaError(fault.code, http_status=fault.status))
    status = fault.status or 500
    if fault.kind == "html":
        return Answer(status, HTML_PAGE, HTML)
    if fault.kind == "non_json":
        return Answer(status, NON_JSON, TEXT)
    if fault.code:
        return json_answer(MetaError(fault.code, http_status=status).envelope(), status)
    return json_answer(SERVER_ERROR, status)


def check_version(settings: SimulatorConfig, version: str) -> None:
    """Raise code 100 (subcode 2635) for an unknown or expired Graph version."""
    live = settings.live_versions
    if version not in live:
        details = (
            f"Graph API version {version} is unknown or expired; use one of {', '.join(live)}."
        )
        raise MetaError(100, details, subcode=2635)


def check_token(settings: SimulatorConfig, authorization: str, query_string: bytes) -> None:
    """Raise :class:`InvalidToken` unless the bearer header or ``access_token`` holds it."""
    token = settings.access_token
    if authorization == "Bearer " + token:
        return
    # Like Starlette's QueryParams: latin-1, blank values kept, the last repeat wins.
    query = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    if query.get("access_token") != token:
        raise InvalidToken


def parse_json(raw: bytes) -> Any:
    """The request body as JSON, or code 100."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MetaError(100, "The request body is not valid JSON.") from None


def unsupported(method: str, node: str) -> MetaError:
    """Meta's "unsupported request" error (code 100, subcode 33)."""
    details = (
        f"Unsupported {method.lower()} request. Object with ID '{node}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation."
    )
    return MetaError(100, details, subcode=33)


async def faulted(
    state: SimulatorState, endpoint: str, body: Any, dispatch: Callable[[], JsonDict]
) -> Answer:
    """Wait out an injected delay, then answer as :func:`faulted_now`."""
    if state.faults.delays:
        delay = state.faults.take_delay(endpoint, recipient(body))
        if delay:
            await asyncio.sleep(delay)
    return faulted_now(state, endpoint, body, dispatch)


def faulted_now(
    state: SimulatorState, endpoint: str, body: Any, dispatch: Callable[[], JsonDict]
) -> Answer:
    """An injected answer if one matches, else ``dispatch()`` (delays are not applied)."""
    faults = state.faults
    fault = faults.take_answer(endpoint, recipient(body)) if faults.answers else None
    if fault is not None:
        state.count(f"fault_{fault.kind}")
        return fault_answer(fault)
    return json_answer(dispatch())


def recipient(body: Any) -> str | None:
    """The digits of ``to`` (or the ``recipient`` BSUID) that faults may target."""
    if not isinstance(body, dict):
        return None
    if body.get("to"):
        return digits(str(body["to"]))
    return str(body["recipient"]) if body.get("recipient") else None
