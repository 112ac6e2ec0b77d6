"""A property-match campaign to many matching leads: how long selecting and queueing takes.

Makes a fresh database (PostgreSQL by default), the seed templates, a 4-room flat in Haifa at
₪1,950,000 and ``--leads`` leads whose criteria it meets (an opt-in each, Hebrew and English
alternating, names and phones sealed as the product seals them), plus ``--others`` leads it
does not suit; then times ``ovenai.campaigns.launch`` — every lead's criteria and consent
read, the matching ones checked, each one's template filled with its name and sealed, and
the messages and recipient rows inserted, batch by batch (target: 100,000 in < 10 s on
PostgreSQL) — and the report over all of them. Nothing is sent. The CPU used meanwhile is
printed per matching lead: this process's and the PostgreSQL server processes' serving the
bench's databases (``/proc``), with the load averages.

With ``--send``, the campaign's messages are then sent instead: bench.outbound.run's
machinery (the simulator in its own process at ``--cap`` per second, ``--workers`` real
worker processes) with the campaign as what is queued; its figures (sustained rate, the
busiest second, nothing lost or sent twice) are printed; ``--statuses`` also has every
send's three status webhooks come back through ``ovenai serve`` and applied by the workers
(the backlog of stored bodies and its drain are printed with them).

    .venv/bin/python -m bench.campaign --leads 100000
    .venv/bin/python -m bench.campaign --send --leads 20000 --workers 2 --cap 1000
    .venv/bin/python -m bench.campaign --send --statuses --leads 20000 --workers 2 --cap 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, insert, select

from bench.outbound import run as outbound
from bench.webhooks.common import PG_ADMIN, fresh_database, settings_from
from ovenai import campaigns, templates
from ovenai.auth import Actor
from ovenai.columns import new_id, utcnow
from ovenai.db import Database, open_database
from ovenai.leads import identity_columns
from ovenai.models import Lead, Message, Property
from ovenai.settings import SANDBOX_BUSINESS_ACCOUNT_ID

WABA = "bench-waba"
CHUNK = 5000


async def seed(db: Database, *, leads: int, others: int, waba: str = WABA) -> tuple[str, float]:
    """The templates, the listing and the leads; the listing's id and the seconds taken."""
    started = time.perf_counter()
    async with db.session() as session:
        await templates.load_seed(session, waba_id=waba)
        prop = Property(city="חיפה", rooms=Decimal(4), size_m2=100, price=1_950_000)
        session.add(prop)
        await session.commit()
    now = utcnow()
    total = leads + others
    for begin in range(0, total, CHUNK):
        ids = [new_id() for _ in range(begin, min(begin + CHUNK, total))]
        keys = await db.vault.keys("lead", ids, create=True)
        rows = []
        for offset, lead_id in enumerate(ids):
            n = begin + offset
            matching = n < leads
            sealed = identity_columns(
                db.vault, lead_id, keys[lead_id], {"name": f"ליד {n}", "phone": f"+9725{n:08d}"}
            )
            rows.append(
                {
                    "id": lead_id,
                    **sealed,
                    "language": "he" if n % 2 else "en",
                    "source": "manual",
                    "stage": "contacted",
                    "want_city": "חיפה" if matching else "תל אביב",
                    "want_rooms_min": Decimal(3 + n % 2),
                    "want_budget_max": 2_000_000 + (n % 7) * 50_000,
                    "engagement_score": n % 100,
                    "marketing_basis": "opt_in",
                    "marketing_basis_at": now,
                    "marketing_basis_source": "import",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        async with db.session() as session:
            await session.execute(insert(Lead), rows)
            await session.commit()
    return prop.id, time.perf_counter() - started


async def run(args: argparse.Namespace) -> dict[str, object]:
    with fresh_database(args.db, keystore=args.keystore or args.db) as env:
        settings = settings_from(env)
        db = open_database(settings)
        await db.start()
        try:
            property_id, seeded_s = await seed(db, leads=args.leads, others=args.others)
            db.vault.forget_cache()  # keys come from the key store, as in a fresh process
            databases = [env["DATABASE_URL"], env["OVENAI_KEYSTORE_URL"]]
            backends = _backends_cpu(databases)
            cpu = time.process_time()
            started = time.perf_counter()
            made = await campaigns.launch(
                db, actor=Actor.system(), property_id=property_id, waba_id=WABA
            )
            queued_s = time.perf_counter() - started
            cpu = time.process_time() - cpu
            after = _backends_cpu(databases)
            db_cpu = sum(seconds - backends.get(pid, 0.0) for pid, seconds in after.items())
            started = time.perf_counter()
            report = await campaigns.report(db, actor=Actor.system(), campaign_id=made.id)
            report_s = time.perf_counter() - started
            async with db.session() as session:
                messages = await session.scalar(select(func.count()).select_from(Message))
        finally:
            await db.dispose()
    return {
        "db": args.db,
        "leads": args.leads + args.others,
        "matching": args.leads,
        "queued": report.totals.queued,
        "messages": messages,
        "seed_s": round(seeded_s, 1),
        "select_and_queue_s": round(queued_s, 2),
        "report_s": round(report_s, 2),
        "queued_per_s": round(report.totals.queued / queued_s),
        # CPU while selecting and queueing, per matching lead: this process (the batches'
        # Python) and the PostgreSQL server processes serving its databases.
        "cpu_us_per_lead": round(cpu / args.leads * 1e6),
        "postgresql_cpu_us_per_lead": round(db_cpu / args.leads * 1e6),
        "load": _load(),
    }


def _load() -> str:
    """The 1, 5 and 15-minute load averages when the figures were taken."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _backends_cpu(urls: list[str]) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL server process connected to these
    databases (their names end the URLs; SQLite ones are left out), by process id."""
    names = [url.rsplit("/", 1)[1] for url in urls if url.startswith("postgresql")]
    if not names:
        return {}
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s)", (names,)
        ).fetchall()
    found: dict[int, float] = {}
    for (pid,) in rows:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


async def _campaign_fill(db: Database, count: int) -> None:
    """bench.outbound.run's queue filled by a campaign to ``count`` matching leads."""
    waba = SANDBOX_BUSINESS_ACCOUNT_ID  # the account bench.outbound.run's workers send for
    property_id, seeded_s = await seed(db, leads=count, others=0, waba=waba)
    started = time.perf_counter()
    await campaigns.launch(db, actor=Actor.system(), property_id=property_id, waba_id=waba)
    queued_s = time.perf_counter() - started
    print(f"seeded in {seeded_s:.1f} s; campaign selected and queued in {queued_s:.1f} s")


def send(args: argparse.Namespace) -> dict[str, Any]:
    """The campaign's messages sent through real workers to the simulator."""
    outbound._fill = _campaign_fill  # the one step that differs: what is queued
    sending = argparse.Namespace(
        db=args.db,
        workers=args.workers,
        cap=args.cap,
        messages=args.leads,
        in_flight=64,
        batch=0,
        statuses=args.statuses,
        status_batch=args.status_batch,
    )
    figures: dict[str, Any] = asyncio.run(outbound.bench(sending))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--leads", type=int, default=100_000, help="leads the listing suits")
    parser.add_argument("--others", type=int, default=10_000, help="leads it does not suit")
    parser.add_argument(
        "--keystore",
        choices=("postgresql", "sqlite"),
        default=None,
        help="the key store's database (default: as --db; production keeps it on PostgreSQL)",
    )
    parser.add_argument("--send", action="store_true", help="send the campaign (see above)")
    parser.add_argument(
        "--statuses", action="store_true", help="--send: sent, delivered, read back through serve"
    )
    parser.add_argument(
        "--status-batch", type=int, default=1, help="--statuses: statuses a webhook at most"
    )
    parser.add_argument("--workers", type=int, default=2, help="--send: worker processes")
    parser.add_argument("--cap", type=int, default=1000, help="--send: the simulator's cap")
    args = parser.parse_args()
    figures = send(args) if args.send else asyncio.run(run(args))
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
