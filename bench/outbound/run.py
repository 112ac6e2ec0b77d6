"""Queue N template messages to N leads and drain them through the simulator.

    .venv/bin/python -m bench.outbound.run --db postgresql --workers 2 --cap 1000
    .venv/bin/python -m bench.outbound.run --db sqlite --workers 1 --cap 1000
    .venv/bin/python -m bench.outbound.run --db postgresql --workers 2 --cap 0   # uncapped

The simulator runs in its own process (statuses off); workers are real processes running
``ovenai.worker.run_worker`` (claim, limits, send, record every state change). Reports the
sustained rate (messages / time from the first to the last accepted send), and checks that
nothing was lost (every row ``sent``), nothing was sent twice (one accepted send per
message id) and how the cap held (the simulator's busiest sliding second and its 130429s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import psycopg
from sqlalchemy import func, select

from bench.process import box_speed_s, free_port, start_simulator
from ovenai import templates
from ovenai.columns import new_id
from ovenai.db import Database, open_database, upgrade, upgrade_keystore
from ovenai.keystore import generate_master_key
from ovenai.leads import open_leads, seal_identity
from ovenai.models import Lead, Message
from ovenai.outbox import queue
from ovenai.settings import SANDBOX_BUSINESS_ACCOUNT_ID, SANDBOX_PHONE_NUMBER_ID, load_settings

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
TOKEN = "sim-access-token"


def _databases(kind: str, folder: Path) -> tuple[str, str, str | None]:
    keystore = f"sqlite:///{folder / 'keys.db'}"
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}", keystore, None
    name = f"ovenai_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", keystore, name


async def _fill(db: Database, count: int) -> None:
    """Seed the templates, then `count` leads with one queued template message each."""
    async with db.session() as session:
        await templates.load_seed(session, waba_id=SANDBOX_BUSINESS_ACCOUNT_ID)
        await session.commit()
    await queue_to_new_leads(db, count, template="welcome_new_lead", params=["נועה", "חיפה"])


async def queue_to_new_leads(
    db: Database,
    count: int,
    *,
    template: str,
    params: list[str],
    fields: dict[str, Any] | None = None,
    property_id: str | None = None,
) -> None:
    """`count` new Hebrew leads (``fields`` set on each), each queued ``template`` with
    ``params``, a thousand a transaction; with ``property_id`` the template's media header
    carries that listing's file (ovenai.outbox.queue.with_header_file)."""
    for start in range(0, count, 1000):
        async with db.session() as session:
            rows = []
            numbers = range(start, min(count, start + 1000))
            ids = [new_id() for _ in numbers]
            keys = await db.vault.keys("lead", ids, create=True)  # one key-store transaction
            for n, lead_id in zip(numbers, ids, strict=True):
                lead = Lead(id=lead_id, language="he", property_id=property_id, **(fields or {}))
                phone = f"+9725{n:08d}"
                seal_identity(db.vault, lead, keys[lead_id], {"name": "נועה", "phone": phone})
                session.add(lead)
                rows.append(lead)
            await session.flush()
            prepared = await templates.prepare_send(
                session,
                waba_id=SANDBOX_BUSINESS_ACCOUNT_ID,
                template=template,
                language="he",
                params=params,
            )
            if property_id is not None:
                prepared = await queue.with_header_file(session, prepared, property_id=property_id)
            for record in await open_leads(db.vault, rows):
                await queue.enqueue_template(session, db.vault, lead=record, prepared=prepared)
            await session.commit()


def _env(url: str, keystore: str, folder: Path, sim_url: str, keys: str) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": url,
        "OVENAI_KEYSTORE_URL": keystore,
        "OVENAI_ENCRYPTION_KEYS": keys,
        "OVENAI_SECRET_KEY": "bench-secret",
        "OVENAI_DATA_DIR": str(folder),
        "WHATSAPP_ACCESS_TOKEN": TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": SANDBOX_PHONE_NUMBER_ID,
        "WHATSAPP_BUSINESS_ACCOUNT_ID": SANDBOX_BUSINESS_ACCOUNT_ID,
        "WHATSAPP_API_BASE_URL": sim_url,
        "OVENAI_MESSAGING_TIER": "unlimited",
        # Throughput is measured at any hour: marketing is not held for the night or Shabbat.
        "OVENAI_QUIET_NIGHTS": "false",
        "OVENAI_QUIET_SHABBAT": "false",
        "OVENAI_QUIET_HOLIDAYS": "false",
    }


async def _progress(
    db: Database, sim_url: str, total: int, timeout: float, started: Callable[[], None]
) -> tuple[int, int]:
    """Wait until every message is sent or failed; call `started` once the first is sent.

    While sends go on it asks the simulator, not the database: a reading transaction would
    take SQLite's write lock from the worker (every transaction here is ``BEGIN IMMEDIATE``).
    """
    deadline = time.monotonic() + timeout
    first = True
    while time.monotonic() < deadline:
        accepted = _get(f"{sim_url}/_sim/stats")["counts"].get("accepted", 0)
        if accepted and first:
            started()
            first = False
        if accepted >= total:
            break
        await asyncio.sleep(0.25)
    while True:  # every send answered: wait for the outcomes to be stored
        async with db.session() as session:
            query = select(Message.status, func.count()).group_by(Message.status)
            counts = dict((await session.execute(query)).all())
        done = counts.get("sent", 0) + counts.get("failed", 0)
        if done >= total or time.monotonic() > deadline:
            return counts.get("sent", 0), counts.get("failed", 0)
        await asyncio.sleep(0.25)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu_seconds() -> float:
    """CPU seconds used so far by every PostgreSQL server process on this machine."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().split(") ", 1)
        except (OSError, ValueError):
            continue  # the process ended meanwhile
        if name.endswith("(postgres"):
            fields = rest.split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return orjson.loads(answer.read())


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    speed_before = box_speed_s()
    folder = Path(tempfile.mkdtemp(prefix="ovenai-bench-"))
    url, keystore, pg_name = _databases(args.db, folder)
    keys = generate_master_key(key_id="bench")
    port = free_port()
    sim = start_simulator(port, cap=args.cap)
    sim_url = f"http://127.0.0.1:{port}"
    upgrade(url)
    upgrade_keystore(keystore)
    settings = load_settings(
        database_url=url,
        keystore_url=keystore,
        encryption_keys=keys,
        secret_key="x",
        data_dir=folder,
    )
    db = open_database(settings)
    await db.start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        filling = time.monotonic()
        await _fill(db, args.messages)
        print(f"queued {args.messages} in {time.monotonic() - filling:.1f} s", flush=True)
        env = _env(url, keystore, folder, sim_url, keys)
        mps = str(args.cap)  # 0: the worker paces to no cap either
        for _ in range(args.workers):
            sizes = [str(args.in_flight), str(args.batch)]
            command = [sys.executable, "-m", "bench.outbound.worker", mps, *sizes]
            workers.append(subprocess.Popen(command, env=env))
        pids = [sim.pid] + [worker.pid for worker in workers]
        at_start: list[float] = []  # CPU seconds when the first message was accepted

        def started() -> None:
            at_start.extend(_cpu_seconds(pid) for pid in pids)
            at_start.append(_postgres_cpu_seconds())

        sent, failed = await _progress(db, sim_url, args.messages, args.messages / 50 + 60, started)
        now = [*(_cpu_seconds(pid) for pid in pids), _postgres_cpu_seconds()]
        used = [after - before for after, before in zip(now, at_start, strict=True)]
        sim_cpu, worker_cpu, db_cpu = used[0], sum(used[1:-1]), used[-1]
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(30)
        await db.dispose()
    try:
        stats = _get(f"{sim_url}/_sim/stats")
        outbox = _get(f"{sim_url}/_sim/outbox")["messages"]
    finally:
        sim.terminate()
        sim.wait(10)
        if pg_name:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{pg_name}" WITH (FORCE)')
    speed_after = box_speed_s()
    copies = Counter(m["body"].get("biz_opaque_callback_data") for m in outbox)
    times = sorted(m["at"] for m in outbox)
    span = times[-1] - times[0] if len(times) > 1 else 1.0
    return {
        "db": args.db,
        "workers": args.workers,
        "cap": args.cap or None,
        "messages": args.messages,
        "sent": sent,
        "failed": failed,
        "accepted": len(outbox),
        "sent_twice": sum(1 for c in copies.values() if c > 1),
        "sustained_per_s": round(len(outbox) / span),
        "seconds_to_99pct": round(times[int(len(times) * 0.99) - 1] - times[0], 2),
        "seconds_to_all": round(span, 2),
        "max_accepted_in_one_second": stats["max_accepted_per_second"],
        "max_attempts_in_one_calendar_second": stats["max_attempts_per_second"],
        "refused_130429": stats["counts"].get("rejected_130429", 0),
        "media_uploads": stats["counts"].get("media_uploads", 0),
        # CPU per message: the part of the two cores each side used (machine-dependent)
        "worker_cpu_us_per_message": round(worker_cpu / max(sent, 1) * 1e6),
        "simulator_cpu_us_per_message": round(sim_cpu / max(sent, 1) * 1e6),
        "postgresql_cpu_us_per_message": round(db_cpu / max(sent, 1) * 1e6) if pg_name else None,
        "box_loop_10m_s_before_after": [speed_before, speed_after],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cap", type=int, default=1000, help="simulator cap; 0 = uncapped")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--batch", type=int, default=0, help="messages a claim takes; 0 = default")
    args = parser.parse_args()
    print(orjson.dumps(asyncio.run(bench(args)), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
