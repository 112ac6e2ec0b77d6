"""`ovenai worker`: the outbound dispatcher and the scheduler (several may share PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import signal

import typer

from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.db import Database
from ovenai.outbox.pause import resume_sending
from ovenai.worker import event_loop_factory, run_worker


@app.command()
def worker() -> None:
    """Send the outbox within Meta's limits and run the timed jobs, until SIGINT/SIGTERM."""
    config = common.settings(service=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def work(db: Database) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(config, db, stop)

    common.with_db(config, work, loop_factory=event_loop_factory(), inline=True)
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
