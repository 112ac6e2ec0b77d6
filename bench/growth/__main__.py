"""Growth with data (PostgreSQL): the same requests at 10^4, 10^5 and 10^6 leads.

    .venv/bin/python -m bench.growth --sizes 10000,100000,1000000 --messages 10000000
    .venv/bin/python -m bench.growth --quick          # 1,000 then 10,000 leads, 100,000 messages

One database, ``ovenai_bench_growth`` (made afresh, migrated with the project's migrations;
dropped at the end unless ``--keep``), grows from one size to the next
(:mod:`bench.growth.generate`: the bulk in SQL; ``--messages`` at the largest size, scaled
below in proportion to the leads). After each growth the worker's key-figure jobs run
(``kpis.turns``, ``kpis.cohort``, ``kpis.webhooks``: they count what was written since
their last run), ``--measured`` leads are made through the product's services
(:mod:`bench.growth.subjects`), and each operation is timed ``--runs`` times after one warm
run (:mod:`bench.growth.measure`): lookup by phone (``leads.list_leads``, as
``GET /api/v1/leads?phone=``), the inbox's first page (an admin's, an agent's) and a page
halfway down by its keyset cursor, a measured lead's conversation, its export (JSON), the
key-figure report over 1 and 30 days, each measured lead's erasure (once each) and the
retention job's run (its first run after a growth deletes what the growth dated two years
back; the timed runs after it find nothing left). Median and p95 are printed, with the load
and the box's speed; the statements of each operation's slowest run are explained
(``EXPLAIN (ANALYZE, BUFFERS)``, the two slowest) into ``--plans``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import text

from bench.growth.generate import Size, grow
from bench.growth.measure import Recorder, Timings, explain, measure
from bench.growth.subjects import make
from bench.process import box_speed_s
from bench.webhooks.common import PG_ADMIN, kept_env, settings_from
from ovenai import cohort_hours, response_turns, webhook_hours
from ovenai.columns import utcnow
from ovenai.db import Database, open_database, upgrade, upgrade_keystore

NAME = "ovenai_bench_growth"
KEPT_TABLES = ", ".join(
    (
        "response_turns",
        "reply_marks",
        "reply_mark_hours",
        "response_turn_hours",
        "cohort_hours",
        "webhook_hours",
    )
)


@contextmanager
def database(keep: bool, name: str = NAME) -> Iterator[dict[str, str]]:
    """The database ``name`` made afresh and migrated, its key store in a temporary folder;
    both removed afterwards unless ``keep``."""
    folder = Path(tempfile.mkdtemp(prefix="ovenai-bench-growth-"))
    env = kept_env(folder, name)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade(env["DATABASE_URL"])
        upgrade_keystore(env["OVENAI_KEYSTORE_URL"])
        yield env
    finally:
        if keep:
            print(f"kept {name}; its key store and settings: {folder}")
            (folder / "env.json").write_text(json.dumps(env))
        else:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(folder, ignore_errors=True)


def load() -> str:
    """The 1-, 5- and 15-minute load averages."""
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


async def kpi_jobs(db: Database) -> dict[str, float]:
    """The worker's key-figure jobs once (they count what was written since their last
    run), then their tables vacuumed and analysed as autovacuum would after a bulk insert."""
    took: dict[str, float] = {}
    for name, job in (
        ("kpis.turns", response_turns.refresh),
        ("kpis.cohort", cohort_hours.refresh),
        ("kpis.webhooks", webhook_hours.refresh),
    ):
        began = time.perf_counter()
        await job(db)
        took[name] = time.perf_counter() - began
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        began = time.perf_counter()
        await autocommit.execute(text(f"VACUUM ANALYZE {KEPT_TABLES}"))
        took["vacuum analyze"] = time.perf_counter() - began
    return took


def table(size: int, found: dict[str, Timings]) -> None:
    """Print one size's medians and p95s."""
    print(f"\n{'operation':<30} {'runs':>4} {'p50 ms':>9} {'p95 ms':>9}   ({size:,} leads)")
    for name, timings in found.items():
        print(f"{name:<30} {len(timings.runs):>4} {timings.p50():>9.1f} {timings.p95():>9.1f}")


async def run(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    plans = Path(args.plans)
    plans.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, object]] = []
    with database(args.keep, args.database) as env:
        db = open_database(settings_from(env))
        await db.start()
        recorder = Recorder(db)
        try:
            have = Size(0, 0)
            made = 0
            for size in sizes:
                want = Size(size, args.messages * size // max(sizes))
                print(f"\n== {size:,} leads, {want.messages:,} messages; load {load()}, "
                      f"box {box_speed_s():.2f} s", flush=True)  # fmt: skip
                step = await grow(db, have, want, utcnow())
                have = want
                print("generated: " + ", ".join(f"{k} {v:.1f} s" for k, v in step.took.items()))
                print(f"generation of this step: {step.total:.1f} s", flush=True)
                key_figures = size <= args.kpi_up_to
                jobs = await kpi_jobs(db) if key_figures else {}
                if key_figures:
                    print(
                        "key-figure jobs: " + ", ".join(f"{k} {v:.1f} s" for k, v in jobs.items())
                    )
                else:
                    print(f"key-figure jobs not run above {args.kpi_up_to:,} leads: no report")
                began = time.perf_counter()
                subjects = await make(db, made, args.measured)
                made += args.measured
                print(f"{args.measured} measured leads made in {time.perf_counter() - began:.1f} s")
                before = load()
                found, deleted = await measure(
                    db, recorder, subjects, args.runs, args.retention_runs, key_figures=key_figures
                )
                print(f"retention's first run deleted: {deleted}")
                table(size, found)
                print(f"load {before} -> {load()}, box {box_speed_s():.2f} s", flush=True)
                with (plans / f"growth-{size}.txt").open("w") as out:
                    for name, timings in found.items():
                        out.write(f"==== {name} at {size:,} leads (slowest run "
                                  f"{max(timings.runs):.1f} ms)\n")  # fmt: skip
                        for plan in await explain(db, timings.slowest):
                            out.write(plan + "\n\n")
                results.append(
                    {
                        "leads": size,
                        "messages": want.messages,
                        "generation_s": step.took,
                        "kpi_jobs_s": jobs,
                        "retention_deleted": deleted,
                        "ms": {
                            name: {"p50": t.p50(), "p95": t.p95(), "runs": t.runs}
                            for name, t in found.items()
                        },
                    }
                )
                Path(args.out).write_text(json.dumps(results, indent=1))
        finally:
            await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="leads at each size")
    parser.add_argument("--messages", type=int, default=10_000_000, help="at the largest size")
    parser.add_argument("--measured", type=int, default=20, help="leads made through services")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--retention-runs", type=int, default=5)
    parser.add_argument(
        "--kpi-up-to",
        type=int,
        default=10**9,
        help="above this many leads, skip the key-figure jobs (their first count) and report",
    )
    parser.add_argument(
        "--quick", action="store_true", help="1,000 / 10,000 leads, 100,000 messages"
    )
    parser.add_argument("--database", default=NAME, help="its name (made afresh: dropped first)")
    parser.add_argument("--keep", action="store_true", help="keep the database and its key store")
    parser.add_argument("--plans", default="/tmp/ovenai-bench-growth", help="EXPLAIN output here")
    parser.add_argument("--out", default="/tmp/ovenai-bench-growth.json", help="figures as JSON")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.messages, args.runs = "1000,10000", 100_000, 5
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
