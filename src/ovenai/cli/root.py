"""The `ovenai` command itself: every command group registers on :data:`app`."""

from __future__ import annotations

import typer

app = typer.Typer(help="OvenAI: WhatsApp lead management for real-estate agencies.")
