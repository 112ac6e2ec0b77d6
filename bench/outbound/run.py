"""Queue N template messages to N leads and drain them through the simulator.

    .venv/bin/python -m bench.outbound.run --db postgresql --workers 2 --cap 1000
    .venv/bin/python -m bench.outbound.run --db sqlite --workers 1 --cap 1000
    .venv/bin/python -m bench.outbound.run --db postgresql --workers 2 --cap 0   # uncapped

The simulator runs in its own process (statuses off); workers are real processes running
``ovenai.worker.run_worker`` (claim, limits, send, record every state change). Reports the
sustained rate (messages / time from the first to the last accepted send), and checks that
nothing was lost (every row ``sent``), nothing was sent twice (one accepted send per
message id) and how the cap held (the simulator's busiest sliding second and its 130429s).

``--statuses`` adds what comes back: the simulator posts each accepted send's ``sent``,
``delivered`` and ``read`` (three statuses a message; one a webhook, or up to
``--status-batch`` in one as Meta batches them) to a real ``ovenai serve``,
which stores and acknowledges them; the workers apply them (``OVENAI_WEBHOOK_PROCESS_IN_SERVE``
false, as where workers run). The stored bodies not yet applied are counted every second
(the backlog), and the run waits until every message is ``read``: the report adds the
webhooks acknowledged, the backlog's peak and its size when the last send was accepted, the
time from then until the last status was applied, and the statuses applied a second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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

from bench.process import (
    box_speed_s,
    cpu_seconds,
    free_port,
    start_listening,
    start_simulator,
)
from ovenai import templates
from ovenai.columns import new_id
from ovenai.db import Database, open_database, upgrade, upgrade_keystore
from ovenai.keystore import generate_master_key
from ovenai.leads import open_leads, seal_identity
from ovenai.models import Lead, Message, WebhookEvent
from ovenai.outbox import queue
from ovenai.settings import SANDBOX_BUSINESS_ACCOUNT_ID, SANDBOX_PHONE_NUMBER_ID, load_settings
from ovenai.simulator.config import SimulatorConfig

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
        counts = await _statuses(db)
        done = sum(counts.get(status, 0) for status in (*_SENT, "failed"))
        if done >= total or time.monotonic() > deadline:
            return sum(counts.get(status, 0) for status in _SENT), counts.get("failed", 0)
        await asyncio.sleep(0.25)


# Where a message can be once Meta accepted it (the statuses move it on from ``sent``).
_SENT = ("sent", "delivered", "read")


async def _statuses(db: Database) -> dict[str, int]:
    """How many messages are in each status."""
    async with db.reading() as session:
        query = select(Message.status, func.count()).group_by(Message.status)
        return {str(status): int(count) for status, count in (await session.execute(query)).all()}


class _Backlog:
    """The stored webhook bodies not applied yet, counted every second while the statuses
    come back (PostgreSQL, or SQLite's reading session: neither waits for the writers)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []

    async def watch(self, db: Database, stop: asyncio.Event) -> None:
        while not stop.is_set():
            async with db.reading() as session:
                pending = select(func.count()).where(WebhookEvent.status == "pending")
                self.samples.append((time.time(), int(await session.scalar(pending) or 0)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    def at(self, moment: float) -> int:
        """The backlog counted last before ``moment``."""
        before = [count for at, count in self.samples if at <= moment]
        return before[-1] if before else 0


async def _all_read(db: Database, total: int, timeout: float) -> float | None:
    """Wait until every message is ``read`` (its three statuses applied); when, or None if
    the timeout passed first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await _statuses(db)).get("read", 0) >= total:
            return time.time()
        await asyncio.sleep(0.2)
    return None


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
    serve_port = free_port()
    webhook_url = f"http://127.0.0.1:{serve_port}/api/webhooks/whatsapp"
    sim = start_simulator(
        port,
        cap=args.cap,
        webhook_url=webhook_url if args.statuses else None,
        status_batch=args.status_batch,
    )
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
    backlog = _Backlog()
    watching = asyncio.Event()
    read_at: float | None = None
    final: dict[str, int] = {}
    try:
        filling = time.monotonic()
        await _fill(db, args.messages)
        print(f"queued {args.messages} in {time.monotonic() - filling:.1f} s", flush=True)
        env = _env(url, keystore, folder, sim_url, keys)
        if args.statuses:
            serving = _serve(env, serve_port)
            workers.append(serving)
            watcher = asyncio.create_task(backlog.watch(db, watching))
        mps = str(args.cap)  # 0: the worker paces to no cap either
        for _ in range(args.workers):
            sizes = [str(args.in_flight), str(args.batch)]
            command = [sys.executable, "-m", "bench.outbound.worker", mps, *sizes]
            workers.append(subprocess.Popen(command, env=env))
        pids = [sim.pid] + [worker.pid for worker in workers]
        at_start: list[float] = []  # CPU seconds when the first message was accepted

        def started() -> None:
            at_start.extend(cpu_seconds(pid) for pid in pids)
            at_start.append(_postgres_cpu_seconds())

        sent, failed = await _progress(db, sim_url, args.messages, args.messages / 50 + 60, started)
        now = [*(cpu_seconds(pid) for pid in pids), _postgres_cpu_seconds()]
        used = [after - before for after, before in zip(now, at_start, strict=True)]
        sim_cpu, worker_cpu, db_cpu = used[0], sum(used[1:-1]), used[-1]
        if args.statuses:
            read_at = await _all_read(db, args.messages, args.messages / 100 + 120)
            watching.set()
            await watcher
            final = await _statuses(db)
    finally:
        watching.set()
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
    figures = _figures(args, sent, failed, outbox, copies, times, span, stats)
    figures |= {
        # CPU per message: the part of the two cores each side used (machine-dependent)
        "worker_cpu_us_per_message": round(worker_cpu / max(sent, 1) * 1e6),
        "simulator_cpu_us_per_message": round(sim_cpu / max(sent, 1) * 1e6),
        "postgresql_cpu_us_per_message": round(db_cpu / max(sent, 1) * 1e6) if pg_name else None,
        "box_loop_10m_s_before_after": [speed_before, speed_after],
    }
    if args.statuses:
        figures |= _status_figures(stats, backlog, times, read_at, args.messages)
        figures["message_statuses_at_the_end"] = final
    return figures


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """``ovenai serve`` on ``port``, storing and acknowledging the simulator's webhooks (the
    workers apply them)."""
    served = env | {
        "WHATSAPP_APP_SECRET": SimulatorConfig().app_secret,
        "OVENAI_WEBHOOK_PROCESS_IN_SERVE": "false",
    }
    command = [str(Path(sys.executable).parent / "ovenai"), "serve", "--port", str(port)]
    return start_listening(command, port, env=served, quiet=True)


def _status_figures(
    stats: dict[str, Any],
    backlog: _Backlog,
    times: list[float],
    read_at: float | None,
    total: int,
) -> dict[str, Any]:
    """What came back: webhooks posted and acknowledged, the backlog, the drain."""
    last_send = times[-1] if times else 0.0
    counts = stats["counts"]
    emitted = {k: counts.get(f"status_{k}", 0) for k in ("sent", "delivered", "read")}
    return {
        "statuses_emitted": emitted,
        "webhooks_delivered": counts.get("webhooks_delivered", 0),
        "webhooks_given_up": counts.get("webhooks_given_up", 0),
        "all_read": read_at is not None,
        "backlog_peak": max((count for _, count in backlog.samples), default=0),
        "backlog_at_last_send": backlog.at(last_send),
        "backlog_last_10_samples_of_sending": [
            count for at, count in backlog.samples if at <= last_send
        ][-10:],
        "seconds_last_send_to_all_read": round(read_at - last_send, 2) if read_at else None,
        "statuses_applied_per_s": (
            round(3 * total / (read_at - times[0])) if read_at and times else None
        ),
    }


def _figures(
    args: argparse.Namespace,
    sent: int,
    failed: int,
    outbox: list[dict[str, Any]],
    copies: Counter[Any],
    times: list[float],
    span: float,
    stats: dict[str, Any],
) -> dict[str, Any]:
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
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cap", type=int, default=1000, help="simulator cap; 0 = uncapped")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--batch", type=int, default=0, help="messages a claim takes; 0 = default")
    parser.add_argument("--statuses", action="store_true", help="statuses back through serve")
    parser.add_argument(
        "--status-batch", type=int, default=1, help="--statuses: statuses a webhook at most"
    )
    args = parser.parse_args()
    print(orjson.dumps(asyncio.run(bench(args)), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
