"""One handler per error base: OvenAI errors, validation errors, and anything unexpected."""

from __future__ import annotations

import html
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ovenai.errors import AuthenticationFailed, OvenAIError

log = logging.getLogger("ovenai.web")


def _wants_html(request: Request) -> bool:
    """Dashboard pages answer errors as a page; the API and webhooks as JSON."""
    path = request.url.path
    return not path.startswith(("/api/", "/health")) and "text/html" in request.headers.get(
        "accept", ""
    )


# What a dashboard page says, in Hebrew, instead of the error's technical English message
# (the JSON answers keep theirs). 410: a lead erased on request or by retention.
_PAGE_TEXT: dict[int, tuple[str, str]] = {
    410: (
        "הליד נמחק",
        "פרטי הליד והשיחה עמו נמחקו (לבקשתו או בתום תקופת השמירה) ואינם זמינים עוד.",
    ),
}


def _error_page(exc: OvenAIError) -> HTMLResponse:
    heading, text = _PAGE_TEXT.get(exc.http_status, (str(exc.http_status), exc.message))
    body = (
        '<!doctype html><html lang="he" dir="rtl"><meta charset="utf-8"><title>OvenAI</title>'
        '<link rel="stylesheet" href="/static/app.css"><main class="error">'
        f"<h1>{html.escape(heading)}</h1><p>{html.escape(text)}</p>"
        '<p><a href="/">חזרה</a></p></main></html>'
    )
    return HTMLResponse(body, status_code=exc.http_status)


async def _ovenai_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OvenAIError)
    if _wants_html(request):
        return _error_page(exc)
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
