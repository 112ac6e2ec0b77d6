"""Shared helpers for the webhook tests: recorded-style payloads as raw bytes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ovenai.webhooks.events import WebhookEvent
from ovenai.webhooks.parse import parse_webhook

FIXTURES = Path(__file__).parent / "fixtures"


def read_payload(name: str) -> bytes:
    """Return a fixture's exact bytes, as Meta would POST them."""
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def load_payload() -> Callable[[str], bytes]:
    """Load a fixture from tests/webhooks/fixtures as raw bytes."""
    return read_payload


@pytest.fixture
def events_of() -> Callable[[str], list[WebhookEvent]]:
    """Parse a fixture into its events."""
    return lambda name: parse_webhook(read_payload(name))
