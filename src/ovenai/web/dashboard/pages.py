"""Rendering a dashboard page: its template with the session's CSRF token for its forms
(the request's language, gettext and time zone come from :func:`ovenai.web.i18n.page_context`)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from ovenai.web.dashboard.session import TEMPLATES, csrf_token


def page(request: Request, name: str, status: int = 200, **context: object) -> HTMLResponse:
    """A template rendered with ``context`` and the CSRF token every form carries."""
    context = {"csrf": csrf_token(request), **context}
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status)
