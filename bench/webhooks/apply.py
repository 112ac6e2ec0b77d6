"""Status events applied per second: stored status bodies drained by the processor.

Set-up (not timed): ``--messages`` outbound messages with wamids, then for each message
the bodies of ``sent``, ``delivered`` and ``read`` (shuffled, so they arrive out of
order) stored through the real event store. Timed: ``Processor.drain()`` until every
stored body is applied (decrypt, parse, exactly-once claims, status rows, message state).

    .venv/bin/python -m bench.webhooks.apply --db sqlite --messages 5000
    .venv/bin/python -m bench.webhooks.apply --db postgresql --messages 5000

``--kind text|media|button|mix`` drains ``--messages`` distinct bodies of what leads send
instead (:mod:`bench.webhooks.bodies`: ``--known`` seeded leads, ``--new-share`` of
first-time senders), stored the same way; ``--warm`` first loads every seeded lead's key
into the processor's cache (a worker that has run for a while), else the drain starts cold
(a worker just started). The consent, score and automation hooks run with the default
rules, as serve and the worker run them (``--no-reactions``: without, as figures before 7 Dec
2026 were measured). ``--profile FILE`` runs the drain under cProfile and prints the
functions that took longest (cumulative).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text

from bench.process import box_speed_s, cpu_seconds
from bench.webhooks import sql_trace
from bench.webhooks.bodies import STREAMED, Plan, write_stream
from bench.webhooks.common import fresh_database, settings_from, status_body, wamid
from bench.webhooks.seed import seed
from ovenai import automation, reactions
from ovenai.columns import new_id, utcnow
from ovenai.db import Database, open_database
from ovenai.ingest.processor import Processor
from ovenai.ingest.receive.event_store import EventStore
from ovenai.models import Lead, Message


async def seed_messages(db: Database, count: int) -> None:
    async with db.session() as session:
        lead = Lead(id=new_id(), source="manual")
        await db.vault.new_lead_key(lead.id)
        session.add(lead)
        await session.flush()
        for n in range(count):
            session.add(
                Message(
                    id=new_id(),
                    lead_id=lead.id,
                    direction="outbound",
                    type="template",
                    wa_message_id=wamid(n),
                    status="sending",
                    status_at=utcnow(),
                )
            )
        await session.commit()


async def store_statuses(db: Database, count: int) -> int:
    bodies = [
        status_body(n, status, 1767000060 + step)
        for n in range(count)
        for step, status in enumerate(("sent", "delivered", "read"))
    ]
    random.Random(7).shuffle(bodies)
    store = EventStore(db)
    for start in range(0, len(bodies), 256):
        await asyncio.gather(*(store.store(raw, {}) for raw in bodies[start : start + 256]))
    store.close()
    return len(bodies)


async def run(env: dict[str, str], messages: int, batch: int, *, inline: bool) -> None:
    db = open_database(settings_from(env), inline=inline)
    await db.start()
    try:
        await seed_messages(db, messages)
        stored = await store_statuses(db, messages)
        started = time.perf_counter()
        processor = Processor(db, batch_size=batch)
        report = await processor.drain()
        elapsed = time.perf_counter() - started
        batch = processor.batch_size
    finally:
        await db.dispose()
    print(
        f"status events applied/s={stored / elapsed:,.0f} ({stored} events in {elapsed:.2f} s, "
        f"batch {batch}; processed={report.processed} failed={report.failed})"
    )


async def run_stream(env: dict[str, str], args: argparse.Namespace) -> None:
    """Seed, store ``--messages`` bodies of ``--kind``, then time their drain."""
    plan = Plan(args.kind, args.messages, known=args.known, new_share=args.new_share)
    with tempfile.TemporaryDirectory(prefix="ovenai-apply-") as folder:
        written = write_stream(plan, Path(folder) / "stream.txt")
        bodies = [line.split("\t", 1)[1].rstrip("\n").encode() for line in written.path.open()]
    await seed(env, known=args.known, outbound=written.outbound_messages)
    settings = settings_from(env)
    db = open_database(settings, inline=not args.aiosqlite)
    await db.start()
    if not args.no_reactions:
        await automation.seed_rules(db)  # as `ovenai db upgrade` does
        reactions.install(settings, db.vault)  # as serve and the worker do
    try:
        store = EventStore(db)
        for start in range(0, len(bodies), 256):
            await asyncio.gather(*(store.store(raw, {}) for raw in bodies[start : start + 256]))
        store.close()
        if args.warm:
            async with db.session() as session:
                ids = list((await session.scalars(select(Lead.id))).all())
            await db.vault.lead_keys(ids)
        processor = Processor(db, batch_size=args.batch)
        totals = sql_trace.attach(db.engine, db.vault) if args.sql_trace else None
        profiler = cProfile.Profile() if args.profile else None
        server = await _server_cpu(db, {})
        started = time.perf_counter()
        cpu_started = time.process_time()
        if profiler is not None:
            profiler.enable()
        report = await processor.drain()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        server = await _server_cpu(db, server)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
            pstats.Stats(args.profile).sort_stats("cumulative").print_stats(40)
        if totals is not None:
            sql_trace.write(totals, Path(args.sql_trace), elapsed)
            _print_statements(totals, len(bodies))
        async with db.session() as session:
            leads = int(await session.scalar(select(func.count()).select_from(Lead)) or 0)
    finally:
        if not args.no_reactions:
            reactions.uninstall(db.vault)
        await db.dispose()
    print(
        f"{args.kind} bodies applied/s={len(bodies) / elapsed:,.0f} ({len(bodies)} in"
        f" {elapsed:.2f} s, batch {processor.batch_size}, {'warm' if args.warm else 'cold'}"
        f" keys; processed={report.processed} failed={report.failed}"
        f" items={dict(report.items)}; leads created {leads - args.known},"
        f" {(leads - args.known) / elapsed:,.0f}/s; {written.by_kind};"
        f" reactions {'off' if args.no_reactions else 'on'})"
    )
    # The processor's own CPU (this process; not the database server's): steadier than the
    # rate on a box others share.
    print(f"processor CPU {1e6 * cpu / len(bodies):,.0f} µs a body", end="")
    if server:
        print(f", its PostgreSQL server processes {1e6 * sum(server.values()) / len(bodies):,.0f}")
    else:
        print()


async def _server_cpu(db: Database, before: dict[int, float]) -> dict[int, float]:
    """PostgreSQL: the CPU seconds of the server processes serving this database, less what
    they had used at ``before`` (a backend not in ``before`` counts from its start); {} on
    SQLite. The box is shared: the server's CPU for this drain alone, where the machine's
    load moves the rates."""
    if db.engine.dialect.name != "postgresql":
        return {}
    async with db.session() as session:
        query = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        pids = list((await session.scalars(query)).all())
    used: dict[int, float] = {}
    for pid in pids:
        try:
            used[pid] = cpu_seconds(pid) - before.get(pid, 0.0)
        except OSError:
            continue  # ended meanwhile
    return used


def _print_statements(totals: sql_trace.Totals, bodies: int) -> None:
    """The drain's statements by kind: how many a body, and their time a body."""
    for kind, calls in sorted(totals.calls.items(), key=lambda item: -item[1]):
        spent = totals.seconds.get(kind, 0.0)
        print(f"{kind:40} {calls / bodies:7.3f}/body {1000 * spent / bodies:7.3f} ms/body")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=0, help="0: the processor's default")
    parser.add_argument("--kind", choices=("status", *STREAMED), default="status")
    parser.add_argument("--known", type=int, default=2000, help="leads seeded (streamed kinds)")
    parser.add_argument("--new-share", type=float, default=0.10, help="first-time senders")
    parser.add_argument("--warm", action="store_true", help="lead keys cached before the drain")
    parser.add_argument("--profile", help="cProfile the drain into this file")
    parser.add_argument(
        "--sql-trace", help="time the drain's statements by kind; JSON into this file"
    )
    parser.add_argument(
        "--no-reactions",
        action="store_true",
        help="apply without the consent, score and automation hooks (and no rules seeded);"
        " by default they run with the default rules, as in serve and the worker",
    )
    parser.add_argument(
        "--aiosqlite",
        action="store_true",
        help="SQLite through aiosqlite's thread, as serve processes (default: inline, as the"
        " worker does)",
    )
    args = parser.parse_args()
    with fresh_database(args.db) as env:
        if args.kind == "status":
            asyncio.run(run(env, args.messages, args.batch, inline=not args.aiosqlite))
        else:
            asyncio.run(run_stream(env, args))
        print(f"db={args.db} messages={args.messages} box loop {box_speed_s()} s")


if __name__ == "__main__":
    main()
