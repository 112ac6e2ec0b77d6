"""How punctually the scheduler fires an interval job (moved from a unit test).

tests/test_scheduler.py asserts that a registered job fires again and again, each run
taking its lease; how close to its period it fires is measured here: a fresh database
(SQLite, or PostgreSQL with ``--db postgresql``), one worker's scheduler, one job every
0.2 s by default, for a fixed time. The gaps include each run's lease and release.

    .venv/bin/python -m bench.unit_moved_scheduler --seconds 3 --interval 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.process import box_speed_s
from ovenai import scheduler
from ovenai.db import open_database, upgrade, upgrade_keystore
from ovenai.keystore import generate_master_key
from ovenai.settings import load_settings

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


async def run(
    url: str, keystore: str, folder: Path, seconds: float, interval: float
) -> list[float]:
    """Monotonic times of each run of an interval job, from the scheduler's start."""
    settings = load_settings(
        database_url=url,
        keystore_url=keystore,
        encryption_keys=generate_master_key(key_id="bench"),
        secret_key=secrets.token_urlsafe(32),
        data_dir=folder,
    )
    db = open_database(settings)
    await db.start()
    runs: list[float] = []
    ran = asyncio.Event()

    async def work(ctx: scheduler.JobContext) -> None:
        runs.append(time.monotonic())
        ran.set()

    job = scheduler.TimedJob("bench.interval", work, interval_s=interval, lease_s=5)
    timed = scheduler.Scheduler(scheduler.JobContext(settings, db), "bench", {job.name: job})
    try:
        started = time.monotonic()
        timed.start()
        await asyncio.sleep(seconds)
        # Stop between two runs (a job still running would be waited for).
        ran.clear()
        await ran.wait()
        await asyncio.sleep(interval / 2)
    finally:
        await timed.stop()
        await db.dispose()
    return [at - started for at in runs]


def main(argv: list[str]) -> int:
    """Print the first run's delay and the gaps between runs (median, max)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--interval", type=float, default=0.2)
    args = parser.parse_args(argv)
    print(f"box loop 10M: {box_speed_s()} s")
    folder = Path(tempfile.mkdtemp(prefix="ovenai-bench-"))
    keystore = f"sqlite:///{folder / 'keys.db'}"
    name = f"ovenai_bench_{secrets.token_hex(4)}"
    if args.db == "sqlite":
        url = f"sqlite:///{folder / 'bench.db'}"
    else:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade(url)
        upgrade_keystore(keystore)
        runs = asyncio.run(run(url, keystore, folder, args.seconds, args.interval))
    finally:
        if args.db == "postgresql":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    gaps = [later - earlier for earlier, later in zip(runs, runs[1:], strict=False)]
    print(
        f"{args.db}, every {args.interval} s for {args.seconds} s: {len(runs)} runs; "
        f"first after {runs[0] * 1000:.0f} ms; gaps median {statistics.median(gaps) * 1000:.0f} ms,"
        f" min {min(gaps) * 1000:.0f} ms, max {max(gaps) * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
