"""`ovenai check-config`: is the configured environment fit for production?"""

from __future__ import annotations

import typer

from ovenai import config_check
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.errors import ConfigurationError
from ovenai.settings import Settings


@app.command("check-config")
def check_config() -> None:
    """Check the configuration (environment and .env) for production: sandbox settings,
    missing secrets, an expired Graph API version, a public URL that is not HTTPS ... Names
    every problem; exits 78 when there is one. Calls nobody (see `ovenai golive check`)."""
    found = config_check.check()
    refused = [p for p in found if not p.warning]
    for problem in refused:
        typer.echo(f"FAIL  {problem}")
    for problem in (p for p in found if p.warning):
        typer.echo(f"WARN  {problem}")
    if refused:
        typer.echo(f"{len(refused)} problems: this configuration must not run production")
        raise typer.Exit(ConfigurationError.exit_code)
    typer.echo("the configuration is fit for production")


def refuse_unfit(config: Settings) -> None:
    """At a service's start: in production, stop on any problem (one line naming them all)
    and print the warnings; elsewhere nothing."""
    try:
        warnings = config_check.require_production_ready(config)
    except ConfigurationError as exc:
        raise common.fail(exc) from None
    for problem in warnings:
        typer.echo(f"warning: {problem}", err=True)
