"""The `ovenai` command line: thin commands that call service functions.

One module per command group; each registers itself on :data:`app` here. Every command
prints one clear line on a known error and exits with that error's code.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="OvenAI: WhatsApp lead management for real-estate agencies.")


def main() -> None:
    """Entry point of the `ovenai` script."""
    from ovenai.cli import (  # noqa: F401  (registers commands)
        accounts,
        database,
        keys,
        leads,
        privacy,
        server,
        simulator,
        templates,
        webhooks,
        worker,
    )

    app()
