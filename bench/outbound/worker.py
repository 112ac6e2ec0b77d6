"""A bench worker: `run_worker` from the environment, with the benchmark's throughput."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from ovenai.db import open_database
from ovenai.outbox.dispatch_config import DispatchConfig
from ovenai.settings import load_settings
from ovenai.worker import event_loop_factory, run_worker


async def main(mps: float | None, concurrency: int, batch: int | None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = load_settings()
    db = open_database(settings)
    await db.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    base = DispatchConfig.from_settings(settings)
    config = DispatchConfig(
        **base.__dict__
        | {"messages_per_second": mps, "concurrency": concurrency, "batch_size": batch}
    )
    try:
        await run_worker(settings, db, stop, config=config, timed_jobs=False)
    finally:
        await db.dispose()


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:  # as `ovenai worker`
        runner.run(main(float(sys.argv[1]) or None, int(sys.argv[2]), int(sys.argv[3]) or None))
