"""The dashboard's browser tests' chromium: Debian's (never a downloaded one), headless,
driven by Playwright; a test that needs it is skipped loudly where it is not installed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"  # installed by scripts/ensure-chromium.sh (make test)
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless chromium per test (Playwright's loop must not outlive it: async tests
    follow); skipped loudly when chromium is not installed."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"SKIPPING browser tests: {CHROMIUM} is missing (scripts/ensure-chromium.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()
