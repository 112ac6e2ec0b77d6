"""A product server with its own settings, run with the options `ovenai serve` uses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

from conftest import LiveServer
from ovenai.cli.serving import SERVER_OPTIONS
from ovenai.settings import Settings
from ovenai.web.app import create_app

ServeWith = Callable[..., AbstractContextManager[str]]


@contextmanager
def _serve(settings: Settings, **overrides: Any) -> Iterator[str]:
    """The product on loopback with `overrides` applied to the settings; yields its URL."""
    app = create_app(settings.model_copy(update=overrides))
    with LiveServer(app, **SERVER_OPTIONS) as live:
        yield live.url


@pytest.fixture
def serve_with(clean_db: Settings) -> ServeWith:
    """Start the product with some settings changed: ``with serve_with(x=1) as url: ...``."""
    return lambda **overrides: _serve(clean_db, **overrides)
