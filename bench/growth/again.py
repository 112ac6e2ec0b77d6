"""Before and after, on the database a ``--keep`` run of :mod:`bench.growth` left (at the
largest size): the erasure with the dedupe keys in the database's collation and compared
byte by byte (migration 0032), and the retention job's run without and with its indexes
(migration 0033).

    .venv/bin/python -m bench.growth.again --env /tmp/ovenai-bench-growth-XXXX/env.json

The database must be at migration 0032 (the run's tree before 0033). ``--subjects`` leads
are made through the services (:mod:`bench.growth.subjects`); half are erased with the
keys compared byte by byte, then the column is put back in the database's collation (as
before 0032; its index rebuilt, timed) and the other half erased, then it is compared byte
by byte again. The retention job runs ``--runs`` times, the database is upgraded to head
(0033's indexes built, timed) and it runs ``--runs`` times again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import text

from bench.growth.measure import POLICY, Recorder, explain, measure
from bench.growth.subjects import ADMIN, make
from bench.webhooks.common import settings_from
from ovenai import privacy, retention
from ovenai.db import Database, open_database, upgrade

COLLATE = "ALTER TABLE applied_items ALTER COLUMN dedupe_key TYPE VARCHAR(200) COLLATE {}"


async def _times(runs: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    took = []
    for run in range(runs):
        began = time.perf_counter()
        await call(run)
        took.append((time.perf_counter() - began) * 1000)
    return took


def _say(name: str, took: list[float]) -> None:
    ordered = sorted(took)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(f"{name:<58} p50 {statistics.median(took):>8.1f} ms, p95 {p95:>8.1f} ms, n={len(took)}")


async def _alter(db: Database, collation: str) -> float:
    began = time.perf_counter()
    async with db.engine.begin() as connection:
        await connection.execute(text(COLLATE.format(collation)))
        await connection.execute(text("ANALYZE applied_items"))
    return time.perf_counter() - began


async def run(args: argparse.Namespace) -> None:
    env = json.loads(Path(args.env).read_text())
    db = open_database(settings_from(env))
    await db.start()
    try:
        print(f"load {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
        if args.measure:
            await _measure(db, args)
            return
        subjects = await make(db, 10_000, args.subjects)
        half = len(subjects) // 2

        def erase(offset: int) -> Callable[[int], Awaitable[object]]:
            async def one(run: int) -> None:
                await privacy.erase(db, actor=ADMIN, phone=subjects[offset + run].phone)

            return one

        _say("erasure, keys compared byte by byte (0032)", await _times(half, erase(0)))
        took = await _alter(db, '"default"')
        print(f"column back to the database's collation in {took:.1f} s")
        _say(
            "erasure, keys in the database's collation (before 0032)",
            await _times(len(subjects) - half, erase(half)),
        )
        took = await _alter(db, '"C"')
        print(f"column compared byte by byte again in {took:.1f} s")

        async def retain(_run: int) -> None:
            await retention.run(db, policy=POLICY)

        _say("retention run, no index on the times (0032)", await _times(args.runs, retain))
        began = time.perf_counter()
        await asyncio.to_thread(upgrade, env["DATABASE_URL"])
        print(f"upgraded to head (0033's indexes built) in {time.perf_counter() - began:.1f} s")
        async with db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("ANALYZE messages, status_events, applied_items, leads"))
        _say("retention run, with 0033's indexes", await _times(args.runs, retain))
        print(f"load {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    finally:
        await db.dispose()


async def _measure(db: Database, args: argparse.Namespace) -> None:
    """Every operation of :mod:`bench.growth` again at the kept size (no key figures)."""
    subjects = await make(db, 20_000, 20)
    found, deleted = await measure(db, Recorder(db), subjects, 20, args.runs, key_figures=False)
    print(f"retention's first run deleted: {deleted}")
    for name, timings in found.items():
        _say(name, timings.runs)
    plans = Path(args.plans)
    plans.mkdir(parents=True, exist_ok=True)
    with (plans / "growth-again.txt").open("w") as out:
        for name, timings in found.items():
            out.write(f"==== {name} (slowest run {max(timings.runs):.1f} ms)\n")
            for plan in await explain(db, timings.slowest):
                out.write(plan + "\n\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", required=True, help="env.json of the kept run")
    parser.add_argument("--subjects", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--measure", action="store_true", help="only the growth's operations")
    parser.add_argument("--plans", default="/tmp/ovenai-bench-growth")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
