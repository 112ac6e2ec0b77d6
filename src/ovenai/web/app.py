"""The application factory: wires settings, the database and every router."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ovenai import graph_times, health, live, reactions
from ovenai.db import Database, open_database
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.ingest.receiver import open_receiver
from ovenai.settings import Environment, Settings
from ovenai.web import api_docs, errors
from ovenai.web.access_log import AccessLog
from ovenai.web.api import (
    alerts,
    automation,
    campaigns,
    documents,
    kpis,
    leads,
    meetings,
    messages,
    notifications,
    privacy,
    properties,
    sending,
    users,
    webhook_failures,
)
from ovenai.web.body_limit import BodyLimit
from ovenai.web.dashboard import routes as dashboard
from ovenai.web.dashboard.session import SESSION_COOKIE, SESSION_SECONDS
from ovenai.web.deps import DbDep, SettingsDep
from ovenai.web.metrics_access import MetricsAccessDep
from ovenai.web.security import SecurityHeaders
from ovenai.web.webhooks import WebhookEndpoint

STATIC_DIR = Path(__file__).resolve().parent / "static"
OPENAPI_URL = "/api/v1/openapi.json"


def _api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=errors.ERROR_RESPONSES)
    for module in (
        alerts,
        automation,
        campaigns,
        documents,
        kpis,
        leads,
        properties,
        meetings,
        messages,
        notifications,
        privacy,
        sending,
        users,
        webhook_failures,
    ):
        router.include_router(module.router)
    return router


def _system_router() -> APIRouter:
    router = APIRouter(responses=errors.ERROR_RESPONSES)

    @router.get("/health", tags=["system"])
    async def health_check(db: DbDep, settings: SettingsDep) -> JSONResponse:
        """Readiness with real checks; 503 when the product is down."""
        result = await health.check(db, settings)
        code = 503 if result.status == "down" else 200
        return JSONResponse({"status": result.status, "checks": result.checks}, status_code=code)

    @router.get("/health/live", tags=["system"])
    async def liveness() -> JSONResponse:
        """Liveness: the process answers (no dependency is checked; /health is readiness)."""
        return JSONResponse({"status": "ok"})

    @router.get(
        "/api/metrics",
        tags=["system"],
        response_class=PlainTextResponse,
        responses=errors.ERROR_RESPONSES_BESIDE_TEXT,
    )
    async def metrics(_allowed: MetricsAccessDep) -> PlainTextResponse:
        """Prometheus text exposition; for allow-listed addresses or the metrics token."""
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class OvenAIApp(FastAPI):
    """FastAPI, with Meta's webhook path answered before routing and middleware.

    The webhook endpoint is the product's hot path (every status of every message), so it
    skips the middleware stack and routing; it adds the security headers itself.
    """

    webhook_endpoint: WebhookEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route the webhook path to its endpoint, everything else through FastAPI."""
        endpoint = self.webhook_endpoint
        if endpoint is not None and scope["type"] == "http" and scope["path"] == WEBHOOK_PATH:
            await endpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, *, db: Database | None = None) -> OvenAIApp:
    """Build the HTTP application; it opens (or is given) the database."""
    database = db or open_database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await database.start()
        reactions.install(settings, database.vault)  # consent, score, rules: webhooks here
        receiver.start()
        changes.start(database.url)  # conversations changed, for the pages waiting on them
        # Graph API calls made here (template management) are timed like the workers' own.
        stop_timing = asyncio.Event()
        timing = asyncio.create_task(graph_times.keep_storing(database, stop_timing))
        # Everything built so far lives as long as the process: keep it out of the garbage
        # collector's full passes, which otherwise paused every request ~100 ms about once
        # a second under webhook load (measured; bench/README.md "Webhooks").
        gc.freeze()
        yield
        stop_timing.set()
        await timing
        await changes.stop()
        await receiver.stop()
        reactions.uninstall(database.vault)
        if db is None:
            await database.dispose()

    app = OvenAIApp(
        title="OvenAI",
        version="1",
        lifespan=lifespan,
        openapi_url=OPENAPI_URL,
        docs_url=None,  # served from packaged assets below (ovenai.web.api_docs)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = database
    changes = app.state.live = live.Changes()
    receiver = app.state.webhooks = open_receiver(
        settings, database, process=settings.webhook_process_in_serve
    )
    app.webhook_endpoint = WebhookEndpoint(receiver)
    errors.install(app)
    api_docs.install(app, openapi_url=OPENAPI_URL, title=app.title)
    app.include_router(_api_router())
    app.include_router(_system_router())
    _install_dashboard(app, settings)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    if settings.access_log:  # every route but the webhook path (answered before it)
        app.add_middleware(AccessLog)
    # Outermost: everything after it sees the real client. Only the listed proxies may say
    # who that is (uvicorn's own proxy handling is off: serving.SERVER_OPTIONS).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    return app


def _install_dashboard(app: FastAPI, settings: Settings) -> None:
    """Pages, static files and signed HttpOnly SameSite session cookies."""
    dashboard.install(app)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret("secret_key"),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_SECONDS,
        same_site="strict",
        https_only=settings.environment is Environment.PRODUCTION,
    )
