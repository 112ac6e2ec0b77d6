"""The product as the acknowledgement bench serves it, and the separate processor process.

``product_app`` is a uvicorn factory (``--factory``; ``--workers N`` imports it in each
worker) reading the bench database from the environment; with
``OVENAI_WEBHOOK_PROCESS_IN_SERVE=false`` it only acknowledges. Run as a module, this is the
separate processor (what ``ovenai worker`` runs for webhooks, with its reactions unless
``BENCH_NO_REACTIONS`` is set) until SIGTERM; with
``BENCH_SQL_TRACE`` set, it times its SQL by statement kind into that file
(:mod:`bench.webhooks.sql_trace`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

from bench.webhooks import sql_trace
from bench.webhooks.common import NO_REACTIONS, settings_from
from ovenai import reactions
from ovenai.db import open_database
from ovenai.web.app import create_app


def product_app() -> Any:
    """The real product app, every middleware installed."""
    return create_app(settings_from(dict(os.environ)))


async def process_until_stopped() -> None:
    """The processor alone in this process, until SIGTERM."""
    from ovenai.ingest.processor import run_processor

    settings = settings_from(dict(os.environ))
    db = open_database(settings, inline=True)  # as `ovenai worker`
    trace = os.environ.get("BENCH_SQL_TRACE")
    totals = sql_trace.attach(db.engine, db.vault) if trace else None
    started = time.perf_counter()
    await db.start()
    if not os.environ.get(NO_REACTIONS):
        reactions.install(settings, db.vault)  # consent, score and rules, as the worker
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await run_processor(db, stop)
    finally:
        await db.dispose()
        if trace and totals is not None:
            sql_trace.write(totals, Path(trace), time.perf_counter() - started)


if __name__ == "__main__":
    asyncio.run(process_until_stopped())
