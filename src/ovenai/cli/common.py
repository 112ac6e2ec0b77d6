"""Helpers every command group shares: settings, the database, one-line errors."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from ovenai.db import Database, open_database, upgrade, upgrade_keystore
from ovenai.errors import OvenAIError, ServiceUnavailable
from ovenai.sandbox import simulator_answers
from ovenai.settings import Settings, load_settings

T = TypeVar("T")


def fail(exc: OvenAIError) -> typer.Exit:
    """Print a known error on one line and give the exit to raise."""
    typer.echo(f"error: {exc.message}", err=True)
    return typer.Exit(exc.exit_code)


def settings(*, sandbox: bool = False, service: bool = False, graph: bool = False) -> Settings:
    """The validated settings, or one line naming what is wrong.

    An operator's command in a `make run` checkout with nothing configured uses the
    sandbox's settings, and says so on standard error. A service (``serve`` without
    ``--sandbox``, ``worker``) never does: it would talk to Meta with the sandbox's tokens.
    A command that calls the Graph API (``graph``) talks to the sandbox's simulator there,
    so the sandbox must be running: when its simulator does not answer, one line says so.
    """
    try:
        config = load_settings(sandbox=sandbox, sandbox_checkout=not service)
    except OvenAIError as exc:
        raise fail(exc) from None
    if config.sandbox and not sandbox:
        typer.echo(
            f"note: using the sandbox's settings in {config.data_dir}/ (nothing configured)",
            err=True,
        )
        url = config.whatsapp_api_base_url
        if graph and not simulator_answers(url):
            raise fail(
                ServiceUnavailable(
                    f"the sandbox's WhatsApp simulator does not answer at {url}: "
                    "start the sandbox with `make run` (in another terminal) and try again"
                )
            )
    return config


def refuse_binary_on_terminal(what: str, option: str = "--output FILE") -> None:
    """Stop (exit 2) before writing binary data to a terminal: it garbles the screen.

    A pipe or a file as standard output is fine.
    """
    if sys.stdout.isatty():
        typer.echo(
            f"error: {what} is binary and standard output is a terminal: give {option} "
            "or redirect the output (> FILE)",
            err=True,
        )
        raise typer.Exit(2)


def with_db(
    config: Settings,
    work: Callable[[Database], Awaitable[T]],
    *,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
    inline: bool = False,
) -> T:
    """Run `work` against a started database, turning known errors into one line
    (``inline``: see :func:`ovenai.db.open_database`)."""

    async def run() -> T:
        db = open_database(config, inline=inline)
        try:
            await db.start()
            return await work(db)
        finally:
            await db.dispose()

    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(run())
    except OvenAIError as exc:
        raise fail(exc) from None


def migrate(config: Settings) -> None:
    """Apply the migrations of the data database and of the key store."""
    upgrade(config.database_url)
    assert config.keystore_url is not None  # placed by load_settings
    upgrade_keystore(config.keystore_url)
