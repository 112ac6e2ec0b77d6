"""No secret and no phone number ever reaches a log line; the access log names route
templates and can be turned off; the log's level and format are settings (JSON lines with
structlog); two servers in one process (the sandbox) print their start lines once."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import ValidationError

from ovenai import logs
from ovenai.cli.serving import LOOPBACK, SERVER_OPTIONS, OwnedServer, listen, serve_together
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign
from ovenai.settings import Settings
from ovenai.simulator import SimulatorConfig
from ovenai.simulator.app import create_simulator_app
from ovenai.simulator.server import uvicorn_config
from web.conftest import ServeWith


def test_requests_are_logged_without_secrets_or_query_strings(
    caplog: pytest.LogCaptureFixture,
    server: Any,
    settings: Settings,
    personas: dict[str, Any],
) -> None:
    admin = personas["admin"].client
    token = admin.headers["Authorization"].split()[1]
    verify = settings.secret("whatsapp_webhook_verify_token")
    app_secret = settings.secret("whatsapp_app_secret")
    with caplog.at_level(logging.DEBUG):
        admin.post("/api/v1/leads", json={"name": "רות", "phone": "0521112222"})
        admin.get("/api/v1/leads", params={"phone": "0521112222"})
        httpx.get(
            f"{server.url}{WEBHOOK_PATH}",
            params={"hub.mode": "subscribe", "hub.verify_token": verify, "hub.challenge": "7"},
        )
        body = b'{"object":"whatsapp_business_account","entry":[]}'
        httpx.post(
            f"{server.url}{WEBHOOK_PATH}",
            content=body,
            headers={SIGNATURE_HEADER: sign(body, app_secret)},
        )
        httpx.get(f"{server.url}/api/v1/leads", headers={"Authorization": "Bearer ovn_wrong"})
    # The test's own HTTP client (httpx) logs its URLs; only the product's lines count.
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in server_side)
    assert "GET /api/v1/leads 200" in logged  # the access log is on
    for secret in (token, verify, app_secret, settings.secret("encryption_keys"), "0521112222"):
        assert secret not in logged
    assert "972521112222" not in logged and "ovn_wrong" not in logged


def test_the_access_log_names_the_route_template_never_the_ids_in_the_path(
    caplog: pytest.LogCaptureFixture, admin: httpx.Client
) -> None:
    lead = admin.post("/api/v1/leads", json={"name": "רות", "phone": "0521113333"}).json()
    with caplog.at_level(logging.INFO, logger="ovenai.access"):
        admin.get(f"/api/v1/leads/{lead['id']}")
        admin.get("/api/v1/leads/0521113333")  # a phone where an id goes: not found
        admin.get("/api/v1/no-such/0521113333")
    lines = [r for r in caplog.records if r.name == "ovenai.access"]
    logged = [r.getMessage() for r in lines]
    assert logged[0].startswith("GET /api/v1/leads/{lead_id} 200 ")
    assert logged[1].startswith("GET /api/v1/leads/{lead_id} 404 ")
    assert logged[2].startswith("GET <no route> 404 ")
    assert not any(lead["id"] in line or "0521113333" in line for line in logged)
    fields = vars(lines[0])
    assert (fields["method"], fields["path"], fields["status"]) == (
        "GET",
        "/api/v1/leads/{lead_id}",
        200,
    )
    assert isinstance(fields["duration_ms"], float)


def test_the_access_log_is_off_when_the_setting_says_so(
    caplog: pytest.LogCaptureFixture, serve_with: ServeWith
) -> None:
    with caplog.at_level(logging.INFO, logger="ovenai.access"):
        with serve_with(access_log=False) as url:
            assert httpx.get(f"{url}/health/live").status_code == 200
        with serve_with(access_log=True) as url:
            assert httpx.get(f"{url}/health/live").status_code == 200
    logged = [r.getMessage() for r in caplog.records if r.name == "ovenai.access"]
    assert len(logged) == 1 and logged[0].startswith("GET /health/live 200 ")


def test_the_access_log_setting_and_the_log_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OVENAI_ACCESS_LOG", "OVENAI_LOG_LEVEL", "OVENAI_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings()
    assert (defaults.access_log, defaults.log_level, defaults.log_format) == (
        True,
        "INFO",
        "console",
    )
    monkeypatch.setenv("OVENAI_ACCESS_LOG", "off")
    monkeypatch.setenv("OVENAI_LOG_LEVEL", "debug")
    monkeypatch.setenv("OVENAI_LOG_FORMAT", "json")
    config = Settings()
    assert (config.access_log, config.log_level, config.log_format) == (False, "DEBUG", "json")
    monkeypatch.setenv("OVENAI_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("OVENAI_LOG_FORMAT", "json")
    monkeypatch.setenv("OVENAI_LOG_LEVEL", "loud")
    with pytest.raises(ValidationError):
        Settings()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the logging configuration back as pytest had it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {name: logging.getLogger(name) for name in ("uvicorn", "uvicorn.error")}
    kept = {name: (lg.handlers[:], lg.level, lg.propagate) for name, lg in named.items()}
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    for name, (old_handlers, old_level, propagate) in kept.items():
        named[name].handlers[:] = old_handlers
        named[name].setLevel(old_level)
        named[name].propagate = propagate


def test_json_lines_at_the_level_set(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.configure(Settings(OVENAI_LOG_FORMAT="json", OVENAI_LOG_LEVEL="warning"), stream=stream)
    logging.getLogger("ovenai.test").info("not shown at warning")
    logging.getLogger("ovenai.test").warning("shown %s", "once")
    access = logging.getLogger("ovenai.access")
    access.error("GET /x 500 1.0ms", extra={"method": "GET", "path": "/x", "status": 500})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["shown once", "GET /x 500 1.0ms"]
    assert lines[0]["level"] == "warning" and lines[0]["logger"] == "ovenai.test"
    assert lines[0]["timestamp"].endswith("Z")
    assert (lines[1]["method"], lines[1]["path"], lines[1]["status"]) == ("GET", "/x", 500)


def test_two_servers_in_one_process_print_the_start_lines_once(restore_logging: None) -> None:
    """The sandbox serves the product and the simulator in one process: uvicorn's start and
    stop lines, which both servers write to one logger, are printed once."""
    stream = io.StringIO()
    logs.configure(Settings(OVENAI_LOG_FORMAT="console"), stream=stream)
    sim = SimulatorConfig()
    servers = [
        (
            OwnedServer(uvicorn_config(create_simulator_app(sim), LOOPBACK, 0)),
            listen(LOOPBACK, 0),
        ),
        (
            OwnedServer(uvicorn.Config(_hello, host=LOOPBACK, port=0, **SERVER_OPTIONS)),
            listen(LOOPBACK, 0),
        ),
    ]

    async def serve_briefly() -> bool:
        async def stop_when_started() -> None:
            while not all(server.started for server, _ in servers):
                await asyncio.sleep(0.01)
            for server, _ in servers:
                server.should_exit = True

        stopper = asyncio.create_task(stop_when_started())
        started = await serve_together(servers)
        await stopper
        return started

    assert asyncio.run(serve_briefly())
    output = stream.getvalue()
    for line in ("Started server process", "Application startup complete", "Shutting down"):
        assert output.count(line) == 1, output
    assert "INFO:" not in output  # uvicorn's own format: its logging set-up is not used


async def _hello(scope: Any, receive: Any, send: Any) -> None:
    """The smallest ASGI app with a lifespan, as the product has."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_a_logged_error_shows_its_traceback_without_the_frames_local_values(
    restore_logging: None, log_format: str
) -> None:
    """Schemathesis found a request that failed with a database error (docs/drills.md): its
    console traceback listed every local of every frame (rich's formatter, installed with
    typer), values a request carried included, and took tens of seconds to print."""
    stream = io.StringIO()
    logs.configure(Settings(OVENAI_LOG_FORMAT=log_format), stream=stream)

    def failing_route() -> None:
        phone = "972521234567"  # a local value of the failing frame
        raise RuntimeError(f"the route failed for a number of {len(phone)} digits")

    try:
        failing_route()
    except RuntimeError:
        logging.getLogger("ovenai.web").exception("unhandled error on GET /x")
    output = stream.getvalue()
    assert "972521234567" not in output
    text = json.loads(output)["exception"] if log_format == "json" else output
    assert "Traceback (most recent call last)" in text and "in failing_route" in text
    assert "RuntimeError: the route failed for a number of 12 digits" in text
