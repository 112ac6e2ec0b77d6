"""Load and counting shared by the drills where the database goes away: Meta posting
webhooks and an agent's client queueing messages while it is gone, then every answer counted
against what the database holds (docs/drills.md "PostgreSQL gone", "Database failover").

A drill gives :func:`run` the product it started (:class:`Product`: its processes, and how to
read its database directly, not through the product) and the outage (a callable that makes
the database go away and returns once it is back).
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from drills.product import (
    Answers,
    Process,
    environment,
    free_port,
    inbound_body,
    post_until_stored,
    sim_get,
    start,
    wait_until_live,
)
from ovenai import live, wakeups
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.settings import Settings
from ovenai.simulator import SimulatorThread
from support.simulator_http import post_control

SETTLE_S = 120.0  # how long everything may take to end once the load stops
CLAIM_TTL_S = 5  # a send whose outcome the outage took is tried again after this
LISTENING = (  # connections listening on a channel (the last statement each ran)
    "SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' AND query = 'LISTEN {channel}'"
)
FIRST_SEND = (
    "SELECT extract(epoch FROM min(sent_at))::float FROM messages"
    " WHERE direction = 'outbound' AND sent_at > to_timestamp({at})"
)


@dataclass(frozen=True)
class Plan:
    """One run of a drill: how long the database is gone, and the load around it."""

    leads: int
    posters: int
    post_gap_s: float
    send_gap_s: float
    before_s: float
    outage_s: float
    after_s: float


@dataclass
class Product:
    """The product under attack: its database's name, URL and API token, the simulator playing
    Meta, its processes, and ``rows(sql)`` reading its database directly."""

    name: str
    url: str
    token: str
    simulator: SimulatorThread
    serve: Process
    worker: Process
    rows: Callable[[str], list[tuple[Any, ...]]]


@contextmanager
def started(
    settings: Settings,
    token: str,
    simulator: SimulatorThread,
    rows: Callable[[str], list[tuple[Any, ...]]],
    folder: Path,
) -> Iterator[Product]:
    """``ovenai serve`` and ``ovenai worker`` with these settings, the simulator posting its
    webhooks to serve; stopped afterwards."""
    serve_port = free_port()
    env = environment(
        settings, OVENAI_WORKER_CLAIM_TTL_S=str(CLAIM_TTL_S), OVENAI_LOG_LEVEL="WARNING"
    )
    serve = start("serve", ["serve", "--port", str(serve_port)], env, folder)
    worker = start("worker", ["worker"], env, folder)
    url = f"http://127.0.0.1:{serve_port}"
    name = make_url(settings.database_url).database or ""
    try:
        wait_until_live(url, serve)
        post_control(simulator.base_url, "config", {"webhook_url": url + WEBHOOK_PATH})
        yield Product(name, url, token, simulator, serve, worker, rows)
    finally:
        serve.stop()
        worker.stop()


Outage = Callable[[Plan], None]
"""Makes the database go away during the plan's ``outage_s`` and returns once it is back."""


@dataclass
class Load:
    """What the load threads did: bodies acknowledged, messages queued, answers counted."""

    webhooks: Answers = field(default_factory=Answers)
    api: Answers = field(default_factory=Answers)
    acknowledged: list[str] = field(default_factory=list)  # wamids answered 200
    new_senders: set[str] = field(default_factory=set)
    queued: list[str] = field(default_factory=list)  # idempotency keys answered 202
    webhook_ok_at: list[float] = field(default_factory=list)  # monotonic times of the 200s
    api_ok_at: list[float] = field(default_factory=list)  # and of the 202s
    unfinished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def post_bodies(
    url: str, lead_wa_ids: list[str], plan: Plan, load: Load, stop: threading.Event, n: int
) -> None:
    """One of Meta's posting threads: a known lead or a new sender writes, again and again."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in itertools.count():
            if stop.is_set():
                return
            new = i % 2 == 1
            wa_id = f"97254{n:02d}{i:05d}" if new else lead_wa_ids[i % len(lead_wa_ids)]
            wamid = f"wamid.drill.{n}.{i}"
            body = inbound_body(wa_id, wamid, f"drill {n}.{i}", int(time.time()))
            stored = post_until_stored(
                client, body, load.webhooks, deadline=time.monotonic() + SETTLE_S
            )
            with load.lock:
                if stored:
                    load.acknowledged.append(wamid)
                    load.webhook_ok_at.append(time.monotonic())
                    if new:
                        load.new_senders.add(wa_id)
                else:
                    load.unfinished += 1
            time.sleep(plan.post_gap_s)


def queue_messages(
    url: str, token: str, lead_ids: list[str], plan: Plan, load: Load, stop: threading.Event
) -> None:
    """An agent's client: queue a reply to each lead in turn, retrying each until 202."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for i in itertools.count():
            if stop.is_set():
                return
            key = uuid.uuid4().hex
            path = f"/api/v1/leads/{lead_ids[i % len(lead_ids)]}/messages"
            deadline = time.monotonic() + SETTLE_S
            while time.monotonic() < deadline:
                try:
                    status = client.post(
                        path, json={"text": f"reply {key}"}, headers={"Idempotency-Key": key}
                    ).status_code
                except httpx.TransportError:
                    status = 0
                load.api.add(status)
                if status == 202:
                    with load.lock:
                        load.queued.append(key)
                        load.api_ok_at.append(time.monotonic())
                    break
                time.sleep(0.2)
            else:
                with load.lock:
                    load.unfinished += 1
            time.sleep(plan.send_gap_s)


def until(
    done: Callable[[], bool], what: str | Callable[[], str], timeout: float, *processes: Process
) -> None:
    """Wait for ``done``; else fail saying ``what`` (or what it returns then) and the logs."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            logs = "\n\n".join(f"--- {p.name}\n{p.tail()}" for p in processes)
            said = what if isinstance(what, str) else what()
            raise AssertionError(f"{said} within {timeout} s\n{logs}")
        time.sleep(0.2)


def run(product: Product, plan: Plan, outage: Outage) -> dict[str, Any]:
    """Run the drill: the load, the outage in its middle; assert by counting; the figures."""
    # The leads write first (through the simulator, which opens their windows there too).
    wa_ids = [f"97252{n:07d}" for n in range(plan.leads)]
    for wa_id in wa_ids:
        post_control(
            product.simulator.base_url, "inbound", {"from": wa_id, "type": "text", "text": "hi"}
        )
    until(
        lambda: product.rows("SELECT count(*) FROM leads")[0][0] == plan.leads,
        "the leads' first messages were not applied",
        60,
        product.serve,
        product.worker,
    )
    lead_ids = [row[0] for row in product.rows("SELECT id FROM leads")]
    pids = (product.serve.pid, product.worker.pid)

    load, stop = Load(), threading.Event()
    threads = [
        threading.Thread(target=post_bodies, args=(product.url, wa_ids, plan, load, stop, n))
        for n in range(plan.posters)
    ]
    threads.append(
        threading.Thread(
            target=queue_messages, args=(product.url, product.token, lead_ids, plan, load, stop)
        )
    )
    for thread in threads:
        thread.start()
    time.sleep(plan.before_s)
    began = time.monotonic()
    outage(plan)
    restored, restored_at = time.monotonic(), time.time()
    time.sleep(plan.after_s)
    stop.set()
    for thread in threads:
        thread.join(timeout=SETTLE_S + 30)
    load_ended = time.monotonic()

    until(
        lambda: (
            product.rows("SELECT count(*) FROM webhook_events WHERE status = 'pending'")[0][0] == 0
        ),
        "stored bodies were left unprocessed",
        SETTLE_S,
        product.serve,
        product.worker,
    )
    until(
        lambda: (
            product.rows(
                "SELECT count(*) FROM messages WHERE direction = 'outbound'"
                " AND status NOT IN ('sent', 'failed')",
            )[0][0]
            == 0
        ),
        "queued messages were left unsent",
        SETTLE_S,
        product.serve,
        product.worker,
    )
    settled = time.monotonic()

    # Webhooks: 200 or 503 only; the outage was felt; nothing acknowledged lost or doubled.
    assert load.unfinished == 0
    assert set(load.webhooks.counts) <= {200, 503}, load.webhooks.counts
    assert load.webhooks.counts.get(503, 0) > 0, "no webhook met the outage"
    inbound = dict(
        product.rows(
            "SELECT wa_message_id, count(*) FROM messages"
            " WHERE direction = 'inbound' AND wa_message_id LIKE 'wamid.drill.%'"
            " GROUP BY wa_message_id",
        )
    )
    assert set(inbound) == set(load.acknowledged)
    assert set(inbound.values()) == {1}
    assert product.rows("SELECT count(*) FROM leads")[0][0] == plan.leads + len(load.new_senders)
    bodies = dict(product.rows("SELECT status, count(*) FROM webhook_events GROUP BY status"))
    assert set(bodies) == {"processed"}, bodies
    # 200s per stored body: each 200 stored a row; a 503 may have stored one (the commit
    # reached the server, its answer did not) and is then applied once by the dedupe keys.
    assert bodies["processed"] >= plan.leads + load.webhooks.counts[200]

    # Messages: 202 or 503 only; each 202 is one row, sent or failed with Meta's reason.
    assert set(load.api.counts) <= {202, 503}, load.api.counts
    rows = product.rows(
        "SELECT idempotency_key, status, error_code, error_title FROM messages"
        " WHERE direction = 'outbound'",
    )
    by_key = Counter(row[0] for row in rows)
    assert set(by_key) == set(load.queued)
    assert set(by_key.values()) == {1}
    failed = [row for row in rows if row[1] == "failed"]
    assert all(row[2] is not None and row[3] for row in failed), failed
    accepted = Counter(
        m["body"]["text"]["body"].removeprefix("reply ")
        for m in sim_get(product.simulator.base_url, "outbox")["messages"]
    )
    sent = {row[0] for row in rows if row[1] == "sent"}
    assert set(accepted) == sent  # every sent message reached the simulator; no failed one did
    assert max(accepted.values(), default=1) <= 2  # at least once: a second copy at most

    # The same processes recovered by themselves.
    assert (product.serve.pid, product.worker.pid) == pids
    assert product.serve.alive(), product.serve.tail()
    assert product.worker.alive(), product.worker.tail()
    assert httpx.get(f"{product.url}/health", timeout=10).status_code == 200

    for channel, process, whose in (
        (wakeups.CHANNEL, product.worker, "the worker's wake-ups connection"),
        (live.CHANNEL, product.serve, "serve's live-conversations connection"),
    ):
        until(
            lambda channel=channel: (
                product.rows(LISTENING.format(name=product.name, channel=channel))[0][0] == 1
            ),
            f"{whose} did not LISTEN again",
            30,
            process,
        )
    first_send = product.rows(FIRST_SEND.format(at=restored_at))[0][0]

    def first(times: list[float]) -> float | None:
        after = [t - restored for t in times if t > restored]
        return round(min(after), 2) if after else None

    return {
        "webhooks posted": sum(load.webhooks.counts.values()),
        "answered 200": load.webhooks.counts.get(200, 0),
        "answered 503": load.webhooks.counts.get(503, 0),
        "bodies applied": len(inbound),
        "API answered 202": load.api.counts.get(202, 0),
        "API answered 503": load.api.counts.get(503, 0),
        "messages sent": len(sent),
        "messages failed": len(failed),
        "accepted twice": sum(1 for copies in accepted.values() if copies == 2),
        "first webhook 200 after restore (s)": first(load.webhook_ok_at),
        "webhooks answered only 503 for (s)": _gap(load.webhook_ok_at, began),
        "first API 202 after restore (s)": first(load.api_ok_at),
        "first send after restore (s)": round(first_send - restored_at, 2) if first_send else None,
        "all settled after load stopped (s)": round(settled - load_ended, 2),
    }


def _gap(ok_at: list[float], began: float) -> float | None:
    """The longest time without a webhook answered 200 from the outage on (seconds)."""
    times = sorted(t for t in ok_at if t > began)
    if not times:
        return None
    return round(max(b - a for a, b in itertools.pairwise([began, *times])), 2)
