"""Key figures at volume: how long ``kpis.report`` (and the daily chart) take over a period.

A fresh PostgreSQL database gets ``--leads`` leads (default 100,000), ten agents,
``--messages`` messages (default 1,000,000) spread evenly over the last ``--days`` days
(default 30; 45 % inbound, 55 % outbound, both in every lead's history, so leads reply and
agents answer their turns: read, delivered, sent, failed with Meta's codes, a few still
queued; 60 % of outbound from templates in the seed's 45/25/15/10/5 mix; a third of
outbound written by agents) and one webhook body per three messages (``bench.volume``).
Rows are made in SQL (``generate_series``), in time order as they would be written. The
worker's ``kpis.turns``, ``kpis.cohort`` and ``kpis.webhooks`` jobs then run once, as they
would after the upgrade (their first runs count every lead's turns and reply marks, every
hour's outbound cohort and webhook processing times: timed and printed), and their tables
and the messages are vacuumed and analysed, as autovacuum would after that bulk insert.
Then each period (the last day, 7 days, 30 days) is reported ``--runs`` times (default
20), cold runs first.

    .venv/bin/python -m bench.kpis
    .venv/bin/python -m bench.kpis --messages 200000 --leads 20000 --runs 10

``--keep NAME`` seeds (and runs the jobs on) a database of that name once and keeps it: a
later run with the same name reuses it (migrated to this tree's head first), so two trees'
code can be measured in turns on the same rows (drop it afterwards: ``DROP DATABASE``).
``--parts`` also times each part of one report, in its transaction, five times a period.
``--job N`` writes N messages as a minute brings them (N/2 leads write, an agent answers
each) and times the worker's ``kpis.turns`` run that follows (leads and messages it read
again); the reports measured after it count those leads live (written within the job's
ten-minute grace), as reports do while leads write.

Target: p95 of each report < 200 ms at 1,000,000 messages.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import func, select, text

from bench.volume import seed
from bench.webhooks.common import PG_ADMIN, fresh_database, kept_env, settings_from
from ovenai import cohort_hours, graph_times, kpis, response_turns, webhook_hours
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database, open_database, upgrade, upgrade_keystore
from ovenai.models import Direction, Lead, Message, Role, User

ZONE = ZoneInfo("Asia/Jerusalem")
_TAKES_THE_PERIOD = len(inspect.signature(kpis._first_responses).parameters) == 4
T = TypeVar("T")


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


async def parts(db: Database, days: int, times: int = 5) -> dict[str, list[float]]:
    """Each part of one report over the last ``days`` days, in one transaction set up as
    the report's, timed ``times`` times (ms)."""
    start, end = kpis.last_days(utcnow(), days, ZONE)
    took: dict[str, list[float]] = {}
    async with db.session() as session:
        await session.execute(text(f"SET LOCAL work_mem = '{kpis.WORK_MEM}'"))
        await session.execute(text("SET LOCAL jit = off"))

        async def timed(name: str, part: Awaitable[T]) -> T:
            began = time.perf_counter()
            found = await part
            took.setdefault(name, []).append((time.perf_counter() - began) * 1000)
            return found

        for _ in range(times):
            kept = await timed("cohort: kept hours' state", cohort_hours.kept(session))
            counts = await timed("cohort", cohort_hours.counts(session, start, end, kept))
            codes = sorted({c for (status, _t, c) in counts if status == "failed" and c})
            await timed("error titles", kpis._error_titles(session, codes, start, end))
            found = await timed(
                "turns and reply counts (response_turns.in_period)",
                response_turns.in_period(session, start, end),
            )
            # (the code before 7 Dec 2026, late evening, took the turns alone)
            arguments = (start, end, found) if _TAKES_THE_PERIOD else (found,)
            await timed("first responses", kpis._first_responses(session, *arguments))
            await timed("webhook processing", kpis._webhook_timing(session, start, end))
            await timed("Graph API times", graph_times.summary(session, start, end))
    return took


@contextmanager
def kept_database(name: str) -> Iterator[tuple[dict[str, str], bool]]:
    """Environment variables for the PostgreSQL database ``name``, made if missing (and
    then True: it must be seeded), migrated to head; kept afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="ovenai-bench-"))
    env = kept_env(folder, name)
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            there = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            made = there.fetchone() is None
            if made:
                conn.execute(f'CREATE DATABASE "{name}"')
        upgrade(env["DATABASE_URL"])
        upgrade_keystore(env["OVENAI_KEYSTORE_URL"])
        yield env, made
    except BaseException:
        if made:  # half seeded: not worth keeping
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def run(args: argparse.Namespace) -> None:
    with kept_database(args.keep) if args.keep else fresh_database_to_seed() as (env, fresh):
        db = open_database(settings_from(env))
        await db.start()
        try:
            if fresh:
                await prepare(db, args)
            else:
                print(f"reusing {args.keep}")
                await job(db, "kpis.turns, its run after the upgrade")
            if args.job:
                await write_a_minute(db, args.job)
                await job(db, f"kpis.turns after {args.job:,} new messages")
            for days in (1, 7, 30):
                figures = await measure(db, days, args.runs)
                print(
                    f"last {days:>2} days: cohort {figures['cohort']:>7,}  report first "
                    f"{figures['report_first_ms']:.0f} ms, p50 {figures['report_p50_ms']:.0f} "
                    f"ms, p95 {figures['report_p95_ms']:.0f} ms; daily chart p50 "
                    f"{figures['chart_p50_ms']:.0f} ms, p95 {figures['chart_p95_ms']:.0f} ms"
                )
            if args.parts:
                for days in (1, 7, 30):
                    for name, values in (await parts(db, days)).items():
                        print(
                            f"last {days:>2} days, {name}: {min(values):.0f}-{max(values):.0f} ms"
                        )
        finally:
            await db.dispose()


async def job(db: Database, what: str) -> None:
    """The worker's ``kpis.turns`` job once, timed; with how many leads (and messages, as
    the code since 7 Dec 2026 reports) it counted again."""
    load = os.getloadavg()[0]
    began = time.perf_counter()
    counted = await response_turns.refresh(db)
    took = time.perf_counter() - began
    leads = getattr(counted, "leads", counted)
    messages = getattr(counted, "messages", None)
    read = "" if messages is None else f", {messages:,} messages read"
    print(f"{what}: {leads:,} leads counted again{read} in {took:.2f} s (load {load:.1f})")


async def write_a_minute(db: Database, count: int) -> None:
    """``count`` messages as a minute brings them: half the leads of a random sample write
    (inbound, Meta's time a few seconds ago), and an agent answers each."""
    rng = random.Random()
    now = utcnow()
    async with db.session() as session:
        agent = await session.scalar(select(User.id).where(User.role == Role.AGENT).limit(1))
        sample = select(Lead.id).order_by(func.random()).limit(count // 2)
        leads = list(await session.scalars(sample))
        rng.shuffle(leads)
        rows: list[Message] = []
        for n, lead_id in enumerate(leads):
            at = now - timedelta(seconds=60 - n * 60 / len(leads))
            rows.append(
                Message(
                    lead_id=lead_id,
                    direction=Direction.INBOUND,
                    type="text",
                    status="received",
                    created_at=at,
                )
            )
            rows.append(
                Message(
                    lead_id=lead_id,
                    direction=Direction.OUTBOUND,
                    type="text",
                    status="read",
                    sent_at=at + timedelta(seconds=20),
                    sent_by_id=agent,
                    created_at=at + timedelta(seconds=19),
                )
            )
        session.add_all(rows)
        await session.commit()


@contextmanager
def fresh_database_to_seed() -> Iterator[tuple[dict[str, str], bool]]:
    """A fresh PostgreSQL database (dropped afterwards), to be seeded."""
    with fresh_database("postgresql") as env:
        yield env, True


async def prepare(db: Database, args: argparse.Namespace) -> None:
    """Seed the rows and run the jobs' first runs, as after the upgrade."""
    took = await seed(db, leads=args.leads, messages=args.messages, days=args.days)
    print(f"seeded {args.messages:,} messages, {args.leads:,} leads in {took:.1f} s")
    began = time.perf_counter()
    counted = await response_turns.refresh(db)
    print(
        f"kpis.turns, first run: the turns and reply marks of {counted.leads:,} leads in "
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
        tables = "messages, response_turns, reply_marks, cohort_hours, webhook_hours"
        if await connection.scalar(text("SELECT to_regclass('reply_mark_hours')")):
            tables += ", reply_mark_hours"  # migration 0030 and later
        if await connection.scalar(text("SELECT to_regclass('response_turn_hours')")):
            tables += ", response_turn_hours"  # migration 0034 and later
        await connection.execute(text(f"VACUUM ANALYZE {tables}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", metavar="NAME", help="seed this database once, then reuse it")
    parser.add_argument("--parts", action="store_true", help="time each part of a report too")
    parser.add_argument(
        "--job",
        type=int,
        metavar="N",
        default=0,
        help="write N messages (a minute's: leads writing, agents answering), then time "
        "the kpis.turns job",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
