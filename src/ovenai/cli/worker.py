"""`ovenai worker`: the outbound dispatcher and the scheduler (several may share PostgreSQL)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from ovenai import metrics
from ovenai.cli import common
from ovenai.cli.check_config import refuse_unfit
from ovenai.cli.root import app
from ovenai.db import Database
from ovenai.outbox.pause import resume_sending
from ovenai.worker import event_loop_factory, run_worker


@app.command()
def worker(
    metrics_listen: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT for this worker's Prometheus metrics "
            "(default: OVENAI_WORKER_METRICS_LISTEN; none when empty)"
        ),
    ] = None,
) -> None:
    """Send the outbox within Meta's limits and run the timed jobs, until SIGINT/SIGTERM."""
    config = common.settings(service=True)
    refuse_unfit(config)  # production only: the checks of `ovenai check-config`
    from ovenai import logs  # on use: structlog need not load for every other command

    logs.configure(config)  # level and format by setting (OVENAI_LOG_LEVEL, _FORMAT)
    listen = metrics_listen if metrics_listen is not None else config.worker_metrics_listen
    stop_metrics = metrics.serve_metrics(listen) if listen else None
    if listen:
        typer.echo(f"worker metrics on http://{listen}/metrics")

    async def work(db: Database) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(config, db, stop)

    try:
        common.with_db(config, work, loop_factory=event_loop_factory(), inline=True)
    finally:
        if stop_metrics is not None:
            stop_metrics()
    typer.echo("worker stopped")


sending_app = typer.Typer(help="The outbound pause after Meta rejected the access token.")
app.add_typer(sending_app, name="sending")


@sending_app.command("resume")
def sending_resume() -> None:
    """Lift the pause (once the token is fixed) and close its alert; queued messages go out."""

    async def work(db: Database) -> bool:
        return await resume_sending(db)

    was_paused = common.with_db(common.settings(), work)
    typer.echo("sending resumed" if was_paused else "sending was not paused")
