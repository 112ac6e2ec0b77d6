"""Drill: the product as a cluster of hosts on this machine, two of them killed mid-run.

Hosts are network namespaces on one switch (:mod:`drills.netns`): ``db`` (a PostgreSQL
cluster the drill makes, :func:`drills.pg_cluster.one_server`), ``web1`` and ``web2``
(``ovenai serve``), ``lb`` (Debian's nginx with the shipped site, :mod:`drills.nginx_site`),
``wk1`` and ``wk2`` (``ovenai worker``) and ``meta`` (the simulator, Meta's side, posting its
webhooks to nginx). The test's own process is a host on the switch too: it drives the load
and counts. The sending limit is shared through the database (no ``REDIS_URL``, the
default), so no Redis takes part.

While Meta posts inbound messages (from the simulator, which also reports every send's
statuses, and from the test's retrying poster through nginx), an agent's client queues
replies and an admin launches a property campaign through nginx, ``web1`` and ``wk1`` are
killed with SIGKILL at once and started again on their hosts as a rolling upgrade restarts
a unit (the long form then restarts ``web2`` and ``wk2`` too, with SIGTERM, one after the
other, waiting out nginx's ``fail_timeout``). Counted (docs/drills.md "A cluster on this
machine"):

* every webhook the simulator was answered 200 for is applied exactly once (its message
  stored once, its statuses kept and applied), and none was given up; every body the
  test's poster was answered 200 for is applied once;
* every queued message (each reply answered 202, each campaign recipient) is ``sent`` or
  ``failed`` with Meta's code and title; the simulator accepted each once, and a second
  copy only of a message the killed worker held at the kill (README "Delivery guarantees");
* the simulator's per-second cap, the number's ``OVENAI_MESSAGES_PER_SECOND`` shared by both
  workers, was never exceeded (no 130429; the busiest sliding second at most the cap);
* each timed job ran at most once per firing across the workers (their logs);
* the failover gap: from the kill until nginx answered a webhook 200 again, and until the
  killed worker's claimed messages were sent.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from bench.campaign import seed

from drills import netns, under_load
from drills.nginx_site import NGINX, REJOIN_S, write_site
from drills.pg_cluster import Cluster, can_make_clusters, one_server
from drills.product import (
    SIM,
    Process,
    admin_token,
    drill_settings,
    environment,
    pg_url,
    report,
    sim_get,
    start,
    wait_until_live,
)
from ovenai import scheduler, worker
from ovenai.db import open_database, upgrade, upgrade_keystore
from ovenai.endpoints import WEBHOOK_PATH
from support.aio import run_async
from support.simulator_http import post_control

WHY_NOT = (
    netns.why_not()
    or can_make_clusters()
    or (None if Path(NGINX).exists() else "nginx is not installed (make install does)")
)
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"SKIPPING: {WHY_NOT}")

HOSTS = ("db", "web1", "web2", "lb", "wk1", "wk2", "meta")
NAME = "ovenai"
SERVE_PORT, PG_PORT, LB_PORT, META_PORT = 8000, 5432, 8080, 8765
SETTLE_S = 180.0
# How long a claim holds (the killed worker's messages wait that long before another worker
# takes them). A worker sends a claimed message only within half its claim, and a claim takes
# at least 200 (dispatch_config.MIN_BATCH) plus the batch claimed ahead: at Meta's default 80
# a second shared by two workers those leave in about 10 s. At 20 a second they cannot; the
# outbox then stopped sending until b04c82f (docs/drills.md "A cluster on this machine").
CLAIM_TTL_S = 20
TIMED_RUN = re.compile(r"timed job (\S+) ran in ([\d.]+) s")
assert worker  # the worker's module registers its timed jobs in scheduler.REGISTRY


@dataclass(frozen=True)
class Plan:
    """The load and the faults of one run."""

    cap: int  # messages a second: Meta's cap at the simulator and the workers' shared pace
    campaign: int  # leads the campaign reaches
    leads: int  # leads that write first (their windows open) and get the agent's replies
    inbound_gap_s: float  # between two inbound messages Meta's simulator sends
    load: under_load.Plan  # the test's retrying poster and the agent's client
    roll: bool  # also restart the other serve and worker, as the rest of a rolling upgrade


SHORT = Plan(
    cap=80,
    campaign=400,
    leads=6,
    inbound_gap_s=0.1,
    load=under_load.Plan(
        leads=6, posters=1, post_gap_s=0.05, send_gap_s=0.25, before_s=5, outage_s=0, after_s=4
    ),
    roll=False,
)
LONG = Plan(
    cap=80,
    campaign=2000,
    leads=20,
    inbound_gap_s=0.05,
    load=under_load.Plan(
        leads=20, posters=3, post_gap_s=0.02, send_gap_s=0.1, before_s=15, outage_s=0, after_s=10
    ),
    roll=True,
)


@dataclass
class Site:
    """The cluster: its hosts, database, processes, and how to reach and read them."""

    net: netns.Network
    db: Cluster
    env: dict[str, str]
    folder: Path
    url: str  # nginx, as Meta and the agents reach the product
    sim_url: str
    token: str
    property_id: str
    simulator: Process
    nginx: subprocess.Popen[bytes]
    units: dict[str, Process] = field(default_factory=dict)  # web1, web2, wk1, wk2

    def host(self, name: str) -> netns.Host:
        return self.net.hosts[name]

    def start_unit(self, name: str) -> Process:
        """``ovenai serve`` (web*) or ``ovenai worker`` (wk*) on host ``name``."""
        inside = self.host(name).command()
        env = self.env
        if name.startswith("web"):
            arguments = ["serve", "--host", self.host(name).address, "--port", str(SERVE_PORT)]
        else:  # its timed jobs' runs are logged at INFO, as JSON lines the drill reads
            arguments = ["worker"]
            env = env | {"OVENAI_LOG_LEVEL": "INFO", "OVENAI_LOG_FORMAT": "json"}
        self.units[name] = start(name, arguments, env, self.folder, inside)
        return self.units[name]

    def unit_url(self, name: str) -> str:
        return f"http://{self.host(name).address}:{SERVE_PORT}"

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db.dsn(NAME)) as conn:
            return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]


def _wait_for_simulator(url: str, process: Process) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.alive(), process.tail()
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/_sim/stats", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"the simulator did not start:\n{process.tail()}")


@pytest.fixture
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """The hosts, the database made and migrated (the campaign's listing, leads and
    templates in it), the simulator, nginx, two serves and two workers, all live. The
    test gives its plan (``indirect`` parametrisation)."""
    plan: Plan = request.param
    campaign_leads, cap = plan.campaign, plan.cap
    with netns.network(*HOSTS) as net:
        hosts = net.hosts
        db_host = hosts["db"]
        clients = f"{net.subnet}.0/24"
        with one_server(db_host.address, PG_PORT, clients, db_host.command()) as db:
            with psycopg.connect(db.dsn(), autocommit=True) as conn:
                for each in (NAME, f"{NAME}_keys"):
                    conn.execute(f'CREATE DATABASE "{each}"')
            sim_url = f"http://{hosts['meta'].address}:{META_PORT}"
            settings = drill_settings(
                pg_url(NAME, PG_PORT, db_host.address),
                pg_url(f"{NAME}_keys", PG_PORT, db_host.address),
                tmp_path / "var",
                sim_url,
            )
            upgrade(settings.database_url)
            upgrade_keystore(settings.keystore_url or "")
            token = admin_token(settings)

            async def listing() -> str:
                database = open_database(settings)
                try:
                    await database.start()
                    made, _ = await seed(
                        database, leads=campaign_leads, others=0, waba=SIM.business_account_id
                    )
                    return made
                finally:
                    await database.dispose()

            property_id = run_async(listing)
            env = environment(
                settings,
                OVENAI_WORKER_CLAIM_TTL_S=str(CLAIM_TTL_S),
                OVENAI_MESSAGES_PER_SECOND=str(cap),
                OVENAI_LOG_LEVEL="WARNING",
                OVENAI_TRUSTED_PROXIES=hosts["lb"].address,
                PYTHONPATH=str(Path(__file__).resolve().parents[1]),
            )
            lb = f"{hosts['lb'].address}:{LB_PORT}"
            upstreams = [f"{hosts[name].address}:{SERVE_PORT}" for name in ("web1", "web2")]
            conf = write_site(lb, upstreams, tmp_path)
            nginx_command = hosts["lb"].command(NGINX, "-c", str(conf), "-p", str(tmp_path))
            checked = subprocess.run([*nginx_command, "-t"], capture_output=True, text=True)
            assert checked.returncode == 0, checked.stderr
            simulator = _start_simulator(net, env, tmp_path, cap, f"http://{lb}{WEBHOOK_PATH}")
            nginx_log = (tmp_path / "nginx.out").open("wb")
            nginx = subprocess.Popen(nginx_command, stdout=nginx_log, stderr=nginx_log)
            site = Site(
                net,
                db,
                env,
                tmp_path,
                f"http://{lb}",
                sim_url,
                token,
                property_id,
                simulator,
                nginx,
            )
            try:
                for name in ("web1", "web2", "wk1", "wk2"):
                    site.start_unit(name)
                _wait_for_simulator(sim_url, simulator)
                for name in ("web1", "web2"):
                    wait_until_live(site.unit_url(name), site.units[name])
                wait_until_live(site.url, site.units["web1"])
                yield site
            finally:
                for process in [*site.units.values(), simulator]:
                    process.stop()
                nginx.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    nginx.wait(timeout=10)
                nginx_log.close()


def _start_simulator(
    net: netns.Network, env: dict[str, str], folder: Path, cap: int, webhook_url: str
) -> Process:
    """The simulator (drills/simulator_host.py) on host ``meta``, Meta's cap at ``cap``."""
    meta = net.hosts["meta"]
    command = meta.command(
        sys.executable,
        "-m",
        "drills.simulator_host",
        meta.address,
        str(META_PORT),
        str(cap),
        webhook_url,
    )
    log = folder / "meta.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(command, env=env, cwd=folder, stdout=out, stderr=out)
    return Process("meta", popen, log)


@dataclass
class Meta:
    """Meta's side: the inbound messages the simulator was asked to send, its deliveries
    (each body's latest outcome, read from its control API as the drill runs)."""

    wamids: list[str] = field(default_factory=list)
    deliveries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def feed(self, site: Site, plan: Plan, wa_ids: list[str], stop: threading.Event) -> None:
        """Users write: known leads and new senders in turn, through the simulator."""
        for i in range(1_000_000):
            if stop.is_set():
                return
            wa_id = f"97256{i:07d}" if i % 2 else wa_ids[i % len(wa_ids)]
            spec = {"from": wa_id, "type": "text", "text": f"cluster {i}", "wait": False}
            self.wamids.append(post_control(site.sim_url, "inbound", spec)["message_id"])
            time.sleep(plan.inbound_gap_s)

    def read(self, site: Site) -> None:
        """The simulator keeps its last 2,000 deliveries: read often enough to see each."""
        for delivery in sim_get(site.sim_url, "webhooks"):
            self.deliveries[delivery["body"]] = delivery

    def watch(self, site: Site, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            self.read(site)

    def unfinished(self) -> int:
        """Deliveries still being tried (not answered 200, attempts left)."""
        return sum(
            1 for d in self.deliveries.values() if not d["delivered"] and d["attempts"] < RETRIES
        )


RETRIES = 12  # drills/simulator_host.py
SENT = ("sent", "delivered", "read")  # a message Meta accepted, as far as it got


def _items(body: str) -> tuple[list[str], list[tuple[str, str]]]:
    """A delivered body's inbound message ids and (message id, status) pairs."""
    messages: list[str] = []
    statuses: list[tuple[str, str]] = []
    for entry in orjson.loads(body.encode())["entry"]:
        for change in entry["changes"]:
            value = change["value"]
            messages += [m["id"] for m in value.get("messages", [])]
            statuses += [(s["id"], s["status"]) for s in value.get("statuses", [])]
    return messages, statuses


def _timed_runs(logs: list[Path]) -> dict[str, list[tuple[float, str]]]:
    """Each timed job's runs in the workers' logs: (start, which log), in time order."""
    runs: dict[str, list[tuple[float, str]]] = {}
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            record = orjson.loads(line)
            found = TIMED_RUN.search(str(record.get("event", "")))
            if found is None:
                continue
            ended = datetime.fromisoformat(record["timestamp"]).timestamp()
            began = ended - float(found.group(2))
            runs.setdefault(found.group(1), []).append((began, log.stem))
    return {name: sorted(each) for name, each in runs.items()}


def _busiest_second(times: list[float]) -> int:
    """The most accepted sends in any sliding second."""
    times, most, first = sorted(times), 0, 0
    for last, at in enumerate(times):
        while times[first] <= at - 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def _until(
    done: Callable[[], bool], what: str | Callable[[], str], site: Site, timeout: float = SETTLE_S
) -> None:
    under_load.until(done, what, timeout, *site.units.values(), site.simulator)


def _drill(site: Site, plan: Plan) -> dict[str, Any]:
    """Run the drill; its load threads stopped however it ends."""
    stop, watching = threading.Event(), threading.Event()
    try:
        return _run(site, plan, stop, watching)
    finally:
        stop.set()
        watching.set()


def unsent(site: Site) -> list[tuple[Any, ...]]:
    """The outbound messages not yet sent or failed, by state (for a failure's message)."""
    return site.rows(
        "SELECT status, attempts, throttled_attempts, error_code,"
        " extract(epoch FROM now() - min(next_attempt_at))::int,"
        " extract(epoch FROM now() - max(send_after))::int, count(*) FROM messages"
        " WHERE direction = 'outbound' AND status IN ('queued', 'sending')"
        " GROUP BY 1, 2, 3, 4"
    )


def _run(
    site: Site, plan: Plan, stop: threading.Event, watching: threading.Event
) -> dict[str, Any]:
    # The leads write first (through the simulator, which opens their windows).
    meta, load = Meta(), under_load.Load()
    wa_ids = [f"97252{n:07d}" for n in range(plan.leads)]
    for wa_id in wa_ids:
        spec = {"from": wa_id, "type": "text", "text": "hi"}
        meta.wamids.append(post_control(site.sim_url, "inbound", spec)["message_id"])
    lead_count = "SELECT count(DISTINCT lead_id) FROM messages WHERE direction = 'inbound'"
    _until(lambda: site.rows(lead_count)[0][0] == plan.leads, "the leads did not write", site)
    lead_ids = [
        row[0]
        for row in site.rows("SELECT DISTINCT lead_id FROM messages WHERE direction = 'inbound'")
    ]

    threads = [
        threading.Thread(target=meta.feed, args=(site, plan, wa_ids, stop), daemon=True),
        threading.Thread(
            target=under_load.queue_messages,
            args=(site.url, site.token, lead_ids, plan.load, load, stop),
            daemon=True,
        ),
        *(
            threading.Thread(
                target=under_load.post_bodies,
                args=(site.url, wa_ids, plan.load, load, stop, n),
                daemon=True,
            )
            for n in range(plan.load.posters)
        ),
    ]
    watcher = threading.Thread(target=meta.watch, args=(site, watching), daemon=True)
    for thread in [*threads, watcher]:
        thread.start()
    headers = {"Authorization": f"Bearer {site.token}"}
    launched = httpx.post(
        f"{site.url}/api/v1/campaigns",
        json={"property_id": site.property_id, "start": True},
        headers=headers,
        timeout=60,
    )
    assert launched.status_code == 201, launched.text
    campaign_id = launched.json()["id"]
    time.sleep(plan.load.before_s)

    # web1 and wk1 lost at once (SIGKILL), mid-run.
    web1, wk1 = site.units["web1"], site.units["wk1"]
    web1.popen.kill()
    wk1.popen.kill()
    killed, killed_at = time.monotonic(), time.time()
    web1.popen.wait(timeout=10)
    wk1.popen.wait(timeout=10)
    held = [
        row[0]
        for row in site.rows(
            f"SELECT id FROM messages WHERE status = 'sending' AND claimed_by LIKE '%:{wk1.pid}:%'"
        )
    ]
    held_done: list[float] = []

    def wait_for_held() -> None:
        ids = ", ".join(f"'{each}'" for each in held) or "''"
        left = f"SELECT count(*) FROM messages WHERE id IN ({ids}) AND status = 'sending'"
        while site.rows(left)[0][0]:
            time.sleep(0.1)
        held_done.append(time.monotonic() - killed)

    held_thread = threading.Thread(target=wait_for_held, daemon=True)
    held_thread.start()
    # Started again on their hosts, as the unit manager of a rolling upgrade restarts them.
    restarts: dict[str, float] = {}
    site.start_unit("wk1")
    site.start_unit("web1")
    wait_until_live(site.unit_url("web1"), site.units["web1"])
    restarts["web1 killed to live again (s)"] = round(time.monotonic() - killed, 2)
    if plan.roll:  # the rest of the upgrade: the other serve, then the other worker
        time.sleep(REJOIN_S)
        began = time.monotonic()
        site.units["web2"].stop()
        site.start_unit("web2")
        wait_until_live(site.unit_url("web2"), site.units["web2"])
        restarts["web2 stop to live again (s)"] = round(time.monotonic() - began, 2)
        time.sleep(REJOIN_S)
        site.units["wk2"].stop()
        site.start_unit("wk2")
    time.sleep(plan.load.after_s)
    stop.set()
    for thread in threads:
        thread.join(timeout=SETTLE_S + 30)
    load_ended = time.monotonic()
    held_thread.join(timeout=SETTLE_S)

    # Everything settles: Meta's deliveries answered, the bodies applied, the queue empty.
    left: dict[str, int] = {}

    def settled() -> bool:
        meta.read(site)
        left["deliveries being tried"] = meta.unfinished()
        left["bodies pending"] = site.rows(
            "SELECT count(*) FROM webhook_events WHERE status = 'pending'"
        )[0][0]
        left["messages unsent"] = site.rows(
            "SELECT count(*) FROM messages WHERE direction = 'outbound'"
            " AND status IN ('queued', 'sending')"
        )[0][0]
        return not any(left.values())

    for _ in range(2):  # again after a second: the last sends' statuses
        _until(settled, lambda: f"the cluster did not settle ({left}, {unsent(site)})", site)
        time.sleep(1.0)
    watching.set()
    watcher.join(timeout=10)
    drained_s = round(time.monotonic() - load_ended, 1)

    # Webhooks: every one Meta was answered 200 for applied exactly once; none given up.
    deliveries = list(meta.deliveries.values())
    given_up = [d for d in deliveries if not d["delivered"]]
    assert not given_up, given_up[:3]
    inbound_ids: list[str] = []
    status_pairs: list[tuple[str, str]] = []
    for delivery in deliveries:
        ids, pairs = _items(delivery["body"])
        inbound_ids += ids
        status_pairs += pairs
    assert sorted(inbound_ids) == sorted(set(inbound_ids)) == sorted(set(meta.wamids)), (
        "every inbound message the simulator sent was delivered once"
    )
    stored = dict(
        site.rows(
            "SELECT wa_message_id, count(*) FROM messages WHERE direction = 'inbound'"
            " GROUP BY wa_message_id"
        )
    )
    assert all(stored.get(wamid) == 1 for wamid in inbound_ids)
    drill_ids = {wamid for wamid in stored if wamid.startswith("wamid.drill.")}
    assert drill_ids == set(load.acknowledged)  # the test's poster: each 200 applied once
    assert {stored[wamid] for wamid in drill_ids} <= {1}
    outbound_wamids = {
        row[0]
        for row in site.rows(
            "SELECT wa_message_id FROM messages WHERE direction = 'outbound'"
            " AND wa_message_id IS NOT NULL"
        )
    }
    kept = {
        (row[0], row[1]): row[2]
        for row in site.rows("SELECT wa_message_id, status, applied FROM status_events")
    }
    for pair in status_pairs:
        assert pair in kept, pair
        # A status of a second copy (the killed worker's send) names no message of ours.
        assert kept[pair] is (pair[0] in outbound_wamids), pair
    bodies = dict(site.rows("SELECT status, count(*) FROM webhook_events GROUP BY status"))
    assert set(bodies) == {"processed"}, bodies

    # Messages: each queued one sent or failed with Meta's reason; copies only of held ones.
    rows = site.rows(
        "SELECT id, status, error_code, error_title, wa_message_id, idempotency_key"
        " FROM messages WHERE direction = 'outbound'"
    )
    assert all(row[1] in (*SENT, "failed") for row in rows)
    failed = [row for row in rows if row[1] == "failed"]
    assert all(row[2] is not None and row[3] for row in failed), failed
    replies = Counter(row[5] for row in rows if not str(row[5]).startswith("campaign:"))
    assert set(replies) == set(load.queued) and set(replies.values()) == {1}
    recipients = dict(
        site.rows(
            "SELECT outcome, count(*) FROM campaign_recipients"
            f" WHERE campaign_id = '{campaign_id}' GROUP BY outcome"
        )
    )
    campaign_rows = site.rows(
        "SELECT m.status FROM campaign_recipients r JOIN messages m ON m.id = r.message_id"
        f" WHERE r.campaign_id = '{campaign_id}'"
    )
    assert len(campaign_rows) == plan.campaign, recipients
    accepted = sim_get(site.sim_url, "outbox")["messages"]
    # Each send carries its message's id (biz_opaque_callback_data): copies share it.
    copies = Counter(m["body"]["biz_opaque_callback_data"] for m in accepted)
    sent = {row[0] for row in rows if row[1] in SENT}
    assert set(copies) == sent  # every sent message reached Meta, no failed one did
    assert {row[4] for row in rows if row[1] in SENT} <= {m["id"] for m in accepted}
    twice = {message for message, n in copies.items() if n > 1}
    assert max(copies.values()) <= 2
    assert twice <= set(held), (twice, held)  # only a send in flight at the kill

    # The per-second cap, shared by both workers, never exceeded.
    stats = sim_get(site.sim_url, "stats")
    busiest = _busiest_second([m["at"] for m in accepted])
    assert stats["counts"].get("rejected_130429", 0) == 0, stats
    assert busiest <= plan.cap

    # Each timed job ran once per firing: never twice within its gap, whichever worker.
    runs = _timed_runs([site.folder / "wk1.log", site.folder / "wk2.log"])
    assert runs, "no timed job ran"
    for name, each in runs.items():
        gap = scheduler.REGISTRY[name].min_gap_s
        for (a, _), (b, _) in zip(each, each[1:], strict=False):
            assert b - a >= gap - 1.0, (name, each)

    # The cluster recovered: the processes run, nginx answers.
    assert site.nginx.poll() is None
    for name, process in site.units.items():
        assert process.alive(), f"{name}:\n{process.tail()}"
    assert httpx.get(f"{site.url}/health", timeout=10).status_code == 200

    after_kill = [t - killed for t in load.webhook_ok_at if t > killed]
    return {
        "Meta's webhooks delivered": len(deliveries),
        "of them inbound messages": len(inbound_ids),
        "of them statuses": len(status_pairs),
        "Meta's webhook attempts": sum(d["attempts"] for d in deliveries),
        "Meta's webhooks not answered 200 at first": sum(
            1 for d in deliveries if d["attempts"] > 1
        ),
        "poster's webhooks posted": sum(load.webhooks.counts.values()),
        "poster's answers": {str(k): v for k, v in sorted(load.webhooks.counts.items())},
        "poster's bodies applied": len(drill_ids),
        "API answers": {str(k): v for k, v in sorted(load.api.counts.items())},
        "campaign recipients": plan.campaign,
        "messages sent": len(sent),
        "messages failed": len(failed),
        "held by the killed worker": len(held),
        "accepted twice": len(twice),
        "cap (messages/s)": plan.cap,
        "busiest second at Meta": busiest,
        "130429 answered": stats["counts"].get("rejected_130429", 0),
        "timed job runs": {name: len(each) for name, each in sorted(runs.items())},
        "first webhook 200 after the kill (s)": round(min(after_kill), 2) if after_kill else None,
        "webhooks answered no 200 for at most (s)": under_load._gap(load.webhook_ok_at, killed),
        "killed worker's held messages sent after (s)": (
            round(held_done[0], 2) if held_done else None
        ),
        **restarts,
        "kill at (epoch s)": round(killed_at, 1),
        "all settled after the load (s)": drained_s,
    }


@pytest.mark.parametrize("site", [SHORT], indirect=True, ids=["short"])
def test_a_cluster_losing_a_serve_and_a_worker_loses_nothing_short(site: Site) -> None:
    print(f"\ncluster (short): {_drill(site, SHORT)}")  # noqa: T201


@pytest.mark.drills
@pytest.mark.parametrize("site", [LONG], indirect=True, ids=["long"])
def test_a_cluster_losing_a_serve_and_a_worker_under_load_loses_nothing(site: Site) -> None:
    report("cluster", _drill(site, LONG))
