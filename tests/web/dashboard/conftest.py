"""Dashboard fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ovenai.settings import Settings


@pytest.fixture
def browser_client(server: Any, clean_db: Settings) -> Iterator[httpx.Client]:
    """A cookie-keeping client that asks for HTML, like a browser."""
    headers = {"Accept": "text/html"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
        yield client
