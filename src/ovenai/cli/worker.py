"""`ovenai worker`: the outbound dispatcher and the scheduler (several may share PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import signal

import typer

from ovenai.cli import app, common
from ovenai.db import Database


@app.command()
def worker() -> None:
    """Send the outbox within Meta's limits and run the timed jobs, until SIGINT/SIGTERM."""
    from ovenai.worker import event_loop_factory, run_worker

    config = common.settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def work(db: Database) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(config, db, stop)

    common.with_db(config, work, loop_factory=event_loop_factory())
    typer.echo("worker stopped")
