"""The `ovenai` command line: thin commands that call service functions.

One module per command group; each registers itself on :data:`app` (:mod:`ovenai.cli.root`)
when imported, and this package imports them all. Every command prints one clear line on a
known error and exits with that error's code.
"""

from __future__ import annotations

from ovenai.cli import (  # noqa: F401  (each registers its commands on app)
    accounts,
    alerts,
    automation,
    campaigns,
    check_config,
    database,
    demo,
    golive,
    intents,
    keys,
    kpis,
    leads,
    privacy,
    server,
    simulator,
    templates,
    webhooks,
    worker,
)
from ovenai.cli.root import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the `ovenai` script."""
    app()
