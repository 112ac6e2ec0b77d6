"""/api/docs: Swagger UI served from packaged assets, so it works with no network.

FastAPI's own page loads Swagger UI from a CDN (blank offline, and a third party sees who
reads the docs). The script, styles and icon come from the ``fastapi-offline`` package
(pinned in pyproject.toml: it ships Swagger UI 5, which reads OpenAPI 3.1) and are served
by the app under ``/api/docs/assets/``; nothing on the page points elsewhere (Swagger UI's
online validator badge is off).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/api/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"


def install(app: FastAPI, *, openapi_url: str, title: str) -> None:
    """Serve the docs page at ``/api/docs`` and its assets beside it (the app is made with
    ``docs_url=None``)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="api-docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
