"""One handler per error base: OvenAI errors, validation errors, HTTP errors of the routing
(no such route or method), and anything unexpected.

The API (and anything not asking for HTML) gets JSON in English. A browser gets an error page
in its language (:mod:`ovenai.web.i18n`: the user's, else the language cookie's).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.routing import Match

from ovenai.errors import AuthenticationFailed, OvenAIError
from ovenai.web import deps, i18n
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
    return JSONResponse(shape(exc.to_dict()), status_code=exc.http_status, headers=headers)


def shape(body: Mapping[str, object]) -> dict[str, object]:
    """The API's one error shape: ``error``, ``message`` and ``field`` (None when no one
    field is at fault) first, then whatever else the error tells (Meta's code, ...)."""
    return {"error": body["error"], "message": body["message"], "field": None, **body}


class FieldProblem(BaseModel):
    """One field a validation error names, with what is wrong with it."""

    field: str | None
    message: str


class ErrorBody(BaseModel):
    """The API's one error shape, as the OpenAPI document publishes it for every 4xx."""

    model_config = ConfigDict(extra="allow")  # what else an error tells (Meta's code, ...)

    error: str
    message: str
    field: str | None
    fields: list[FieldProblem] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "Refused: the API's one error shape"}
}
"""The responses every API operation documents besides its own: any 4xx in the error shape
(instead of FastAPI's ``HTTPValidationError``, which the API never answers). Schemathesis
checks each answer against them (``make drills``, docs/drills.md)."""

ERROR_RESPONSES_BESIDE_TEXT: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "description": ERROR_RESPONSES["4XX"]["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
}
"""The same for an operation answering text (its ``response_class`` would otherwise give
the errors its own media type)."""


def error_body(error: str, message: str, field: str | None = None) -> dict[str, object]:
    """An error answer's body in the API's one shape."""
    return {"error": error, "message": message, "field": field}


# pydantic names the member of a union it tried (`list[constrained-str]`, `function-after[...]`,
# `int`) among the places of a value: not a place in the request.
_UNION_MEMBER = re.compile(r"^[a-z][a-z0-9_-]*\[.*\]$|^(constrained-)?(str|int|float|bool|bytes)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def json_path(loc: Sequence[object]) -> str | None:
    """Where a value sits in the request as a JSON path (``params[1]``, ``criteria.rooms``,
    ``params["a b"]``); the parameter's name for a query, path or header; None for the body
    as a whole."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _UNION_MEMBER.match(str(part)):
            continue
        elif _NAME.match(str(part)):
            path += f".{part}" if path else str(part)
        else:
            path += f"[{json.dumps(str(part), ensure_ascii=False)}]"
    return path or None


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if _wants_html(request) and exc.status_code >= 400:
        return _error_page(request, exc.status_code)
    if exc.status_code < 400:
        return await http_exception_handler(request, exc)
    if exc.status_code == 400 and (refused := await _unauthenticated(request)) is not None:
        return refused  # a body FastAPI could not decode
    # The API's one error shape for what routing answers too (unknown path, wrong method).
    name = _HTTP_ERRORS.get(exc.status_code, HTTPStatus(exc.status_code).phrase.replace(" ", ""))
    message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
    body = error_body(name, message)
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(exc.headers or {}), "Allow": _allowed_methods(request)}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method the path takes. The router's 405 names the methods of the first route
    of the path only (``Allow: POST`` for /api/v1/leads, which GET reads too: schemathesis).
    Where two documented paths match (``.../documents/request`` and
    ``.../documents/{document_id}``), the most literal one says which methods it takes."""
    routes = request.app.router.routes
    routed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    documented = _documented_methods(request.app.openapi()["paths"], request.url.path)
    return ", ".join(m for m in routed if not documented or m in documented)


def _documented_methods(paths: Mapping[str, Mapping[str, Any]], path: str) -> set[str]:
    """The methods of the documented path template that fits ``path`` with fewest parameters."""
    fits = [
        (template.count("{"), operations)
        for template, operations in paths.items()
        if re.fullmatch(_template_pattern(template), path)
    ]
    if not fits:
        return set()
    fewest = min(count for count, _ in fits)
    return {m.upper() for count, operations in fits if count == fewest for m in operations}


def _template_pattern(template: str) -> str:
    """``/leads/{lead_id}`` as a regular expression of the paths it names."""
    parts = re.split(r"(\{[^}]+\})", template)
    return "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)


_HTTP_ERRORS = {404: "NotFound", 405: "MethodNotAllowed"}
_HTTP_MESSAGES = {
    404: "no such path; the routes are listed at /api/docs",
    405: "this path does not take that method",
}


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _wants_html(request):  # a form field the page would not send (tampered, too long)
        return _error_page(request, 422)
    if _body_not_json(exc) and (refused := await _unauthenticated(request)) is not None:
        return refused
    fields = [{"field": _field_of(error), "message": _readable(error)} for error in exc.errors()]
    message = "; ".join(
        f"{item['field']}: {item['message']}" if item["field"] else str(item["message"])
        for item in fields
    )
    body = error_body("InvalidInput", message, fields[0]["field"] if fields else None)
    body["fields"] = fields
    return JSONResponse(body, status_code=422)


API_PREFIX = "/api/v1/"
"""Every operation under it takes a bearer token."""


async def _unauthenticated(request: Request) -> Response | None:
    """The 401 (or 429) of an API request without a valid token, None with one.

    FastAPI decodes the body before it runs the route's dependencies, the token check among
    them: a caller without a valid token was told 422 about a body that is not JSON, and
    400 about one that is not UTF-8, instead of 401 like any other request (schemathesis).
    """
    if not request.url.path.startswith(API_PREFIX):
        return None
    try:
        await deps.authenticate(request)
    except OvenAIError as refused:
        return await _ovenai_error(request, refused)
    return None


def _body_not_json(exc: RequestValidationError) -> bool:
    return any(error.get("type") == "json_invalid" for error in exc.errors())


def _field_of(error: Mapping[str, Any]) -> str | None:
    if error.get("type") == "json_invalid":  # its place is a character offset, not a field
        return None
    return json_path(tuple(error["loc"]))


def _readable(error: Mapping[str, Any]) -> str:
    """pydantic's message for people: no "Value error," prefix, JSON errors said plainly."""
    kind = error.get("type")
    if kind == "json_invalid":
        reason = str((error.get("ctx") or {}).get("error", "")).strip()
        reason = reason[:1].lower() + reason[1:]
        offset = next((part for part in error["loc"][1:] if isinstance(part, int)), None)
        where = f" (at character {offset})" if offset is not None else ""
        return f"The body is not valid JSON: {reason or 'it cannot be read'}{where}"
    if kind in ("model_attributes_type", "dict_type") and tuple(error["loc"]) == ("body",):
        return "The body must be a JSON object (sent with Content-Type: application/json)"
    return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The trace goes to the log (which never carries request bodies); the caller gets no detail.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if _wants_html(request):
        return _error_page(request, 500)
    return JSONResponse(error_body("InternalError", "internal error"), status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(OvenAIError, _ovenai_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
