"""One handler per error base: OvenAI errors, validation errors, HTTP errors of the routing
(no such route or method), and anything unexpected.

The API (and anything not asking for HTML) gets JSON in English. A browser gets an error page
in its language (:mod:`ovenai.web.i18n`: the user's, else the language cookie's).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from ovenai.errors import AuthenticationFailed, OvenAIError
from ovenai.web import i18n
from ovenai.web.dashboard.session import TEMPLATES

log = logging.getLogger("ovenai.web")


def _wants_html(request: Request) -> bool:
    """Dashboard pages answer errors as a page; the API and webhooks as JSON."""
    path = request.url.path
    return not path.startswith(("/api/", "/health")) and "text/html" in request.headers.get(
        "accept", ""
    )


def _error_page(request: Request, status: int, text: str | None = None) -> HTMLResponse:
    """The page a browser gets for an error: a heading by status, and ``text`` (already in
    the request's language) or the status's own text. Never the error's English message."""
    words = i18n.translator(request)
    context = {"title": words.error_title(status), "text": text or words.status_text(status)}
    return TEMPLATES.TemplateResponse(request, "error.html", context, status_code=status)


async def _ovenai_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OvenAIError)
    if _wants_html(request):
        return _error_page(request, exc.http_status, i18n.translator(request).error_text(exc))
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationFailed) else None
    return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers=headers)


def _field_name(loc: tuple[object, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if _wants_html(request) and exc.status_code >= 400:
        return _error_page(request, exc.status_code)
    if exc.status_code < 400:
        return await http_exception_handler(request, exc)
    # The API's one error shape for what routing answers too (unknown path, wrong method).
    name = _HTTP_ERRORS.get(exc.status_code, HTTPStatus(exc.status_code).phrase.replace(" ", ""))
    message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
    body = {"error": name, "message": message, "field": None}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


_HTTP_ERRORS = {404: "NotFound", 405: "MethodNotAllowed"}
_HTTP_MESSAGES = {
    404: "no such path; the routes are listed at /api/docs",
    405: "this path does not take that method",
}


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _wants_html(request):  # a form field the page would not send (tampered, too long)
        return _error_page(request, 422)
    fields = [{"field": _field_of(error), "message": _readable(error)} for error in exc.errors()]
    message = "; ".join(f"{item['field']}: {item['message']}" for item in fields)
    body = {"error": "InvalidInput", "message": message, "fields": fields}
    return JSONResponse(body, status_code=422)


def _field_of(error: Mapping[str, Any]) -> str:
    if error.get("type") == "json_invalid":  # its place is a character offset, not a field
        return "body"
    return _field_name(tuple(error["loc"]))


def _readable(error: Mapping[str, Any]) -> str:
    """pydantic's message for people: no "Value error," prefix, JSON errors said plainly."""
    if error.get("type") == "json_invalid":
        return "the body is not valid JSON"
    return str(error["msg"]).removeprefix("Value error, ")


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The trace goes to the log (which never carries request bodies); the caller gets no detail.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if _wants_html(request):
        return _error_page(request, 500)
    return JSONResponse({"error": "InternalError", "message": "internal error"}, status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(OvenAIError, _ovenai_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
