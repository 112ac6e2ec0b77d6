"""Key figures at volume: how long ``kpis.report`` (and the daily chart) take over a period.

A fresh PostgreSQL database gets ``--leads`` leads (default 100,000), ten agents,
``--messages`` messages (default 1,000,000) spread evenly over the last ``--days`` days
(default 30; 45 % inbound, 55 % outbound: read, delivered, sent, failed with Meta's codes,
a few still queued; 60 % of outbound from templates in the seed's 45/25/15/10/5 mix; a
third of outbound written by agents) and one webhook body per three messages. Rows are
made in SQL (``generate_series``), in time order as they would be written. The worker's
``kpis.turns``, ``kpis.cohort`` and ``kpis.webhooks`` jobs then run once, as they would
after the upgrade (their first runs count every lead's turns and reply marks, every hour's
outbound cohort and webhook processing times: timed and printed), and their tables are
vacuumed and analysed, as autovacuum would after that bulk insert. Then each period (the
last day, 7 days, 30 days) is reported ``--runs`` times (default 20), cold runs first.

    .venv/bin/python -m bench.kpis
    .venv/bin/python -m bench.kpis --messages 200000 --leads 20000 --runs 10

Target: p95 of each report < 200 ms at 1,000,000 messages.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from zoneinfo import ZoneInfo

from sqlalchemy import text

from bench.volume import seed
from bench.webhooks.common import fresh_database, settings_from
from ovenai import cohort_hours, kpis, response_turns, webhook_hours
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database, open_database

ZONE = ZoneInfo("Asia/Jerusalem")


async def measure(db: Database, days: int, runs: int) -> dict[str, float]:
    """Time the report (and the daily chart) over the last ``days`` days."""
    start, end = kpis.last_days(utcnow(), days, ZONE)
    actor = Actor.system()
    reports: list[float] = []
    charts: list[float] = []
    for _ in range(runs):
        began = time.perf_counter()
        found = await kpis.report(db, actor=actor, start=start, end=end)
        reports.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        await kpis.daily(db, actor=actor, start=start, end=end, zone=ZONE)
        charts.append((time.perf_counter() - began) * 1000)
    ordered = sorted(reports)
    return {
        "cohort": found.cohort,
        "report_first_ms": reports[0],
        "report_p50_ms": statistics.median(reports),
        "report_p95_ms": ordered[max(0, round(0.95 * len(ordered)) - 1)],
        "chart_p50_ms": statistics.median(charts),
        "chart_p95_ms": sorted(charts)[max(0, round(0.95 * len(charts)) - 1)],
    }


async def run(args: argparse.Namespace) -> None:
    with fresh_database("postgresql") as env:
        db = open_database(settings_from(env))
        await db.start()
        try:
            took = await seed(db, leads=args.leads, messages=args.messages, days=args.days)
            print(f"seeded {args.messages:,} messages, {args.leads:,} leads in {took:.1f} s")
            began = time.perf_counter()
            counted = await response_turns.refresh(db)
            print(
                f"kpis.turns, first run: the turns and reply marks of {counted:,} leads in "
                f"{time.perf_counter() - began:.1f} s"
            )
            began = time.perf_counter()
            hours = await cohort_hours.refresh(db)
            print(
                f"kpis.cohort, first run: the outbound cohort of {hours:,} hours in "
                f"{time.perf_counter() - began:.1f} s"
            )
            began = time.perf_counter()
            hours = await webhook_hours.refresh(db)
            print(
                f"kpis.webhooks, first run: the webhook processing times of {hours:,} hours "
                f"in {time.perf_counter() - began:.1f} s"
            )
            # What autovacuum does after such a bulk insert (the bench cannot wait for it):
            # the kept rows' statistics, and their pages all-visible for index-only scans.
            async with db.engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(
                    text("VACUUM ANALYZE response_turns, reply_marks, cohort_hours, webhook_hours")
                )
            for days in (1, 7, 30):
                figures = await measure(db, days, args.runs)
                print(
                    f"last {days:>2} days: cohort {figures['cohort']:>7,}  report first "
                    f"{figures['report_first_ms']:.0f} ms, p50 {figures['report_p50_ms']:.0f} "
                    f"ms, p95 {figures['report_p95_ms']:.0f} ms; daily chart p50 "
                    f"{figures['chart_p50_ms']:.0f} ms, p95 {figures['chart_p95_ms']:.0f} ms"
                )
        finally:
            await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
