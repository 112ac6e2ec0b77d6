"""One handler per error base: OvenAI errors, validation errors, and anything unexpected."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ovenai.errors import AuthenticationFailed, OvenAIError

log = logging.getLogger("ovenai.web")


async def _ovenai_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OvenAIError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationFailed) else None
    return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers=headers)


def _field_name(loc: tuple[object, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {"field": _field_name(tuple(error["loc"])), "message": error["msg"]}
        for error in exc.errors()
    ]
    message = "; ".join(f"{item['field']}: {item['message']}" for item in fields)
    body = {"error": "InvalidInput", "message": message, "fields": fields}
    return JSONResponse(body, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The trace goes to the log (which never carries request bodies); the caller gets no detail.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "InternalError", "message": "internal error"}, status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(OvenAIError, _ovenai_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
