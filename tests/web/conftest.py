"""A product server with its own settings, run with the options `ovenai serve` uses."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
import uvicorn

from conftest import free_port
from ovenai.cli.serving import SERVER_OPTIONS
from ovenai.settings import Settings
from ovenai.web.app import create_app

ServeWith = Callable[..., AbstractContextManager[str]]


@contextmanager
def _serve(settings: Settings, **overrides: Any) -> Iterator[str]:
    """The product on loopback with `overrides` applied to the settings; yields its URL."""
    port = free_port()
    app = create_app(settings.model_copy(update=overrides))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **SERVER_OPTIONS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def serve_with(clean_db: Settings) -> ServeWith:
    """Start the product with some settings changed: ``with serve_with(x=1) as url: ...``."""
    return lambda **overrides: _serve(clean_db, **overrides)
