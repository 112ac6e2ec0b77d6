"""The product as the acknowledgement bench serves it, and the separate processor process.

``product_app`` is a uvicorn factory (``--factory``; ``--workers N`` imports it in each
worker) reading the bench database from the environment; with
``OVENAI_WEBHOOK_PROCESS_IN_SERVE=false`` it only acknowledges. Run as a module, this is the
separate processor (what ``ovenai worker`` runs for webhooks) until SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from bench.webhooks.common import settings_from
from ovenai.db import open_database
from ovenai.web.app import create_app


def product_app() -> Any:
    """The real product app, every middleware installed."""
    return create_app(settings_from(dict(os.environ)))


async def process_until_stopped() -> None:
    """The processor alone in this process, until SIGTERM."""
    from ovenai.ingest.processor import run_processor

    db = open_database(settings_from(dict(os.environ)))
    await db.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await run_processor(db, stop)
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(process_until_stopped())
