"""Drill: a rolling restart of two ``ovenai serve`` behind nginx while Meta posts webhooks and a
signed-in agent works.

The shipped nginx site (``deploy/nginx/ovenai.conf``) is run by Debian's nginx as it is, but
for what a test on loopback must change: the upstream's two servers are the drill's ports,
it listens on a loopback port without TLS (the redirect to HTTPS and the certificate lines are
left out), and its files are in the test's folder. Two ``ovenai serve`` share a fresh
PostgreSQL database pair. Meta's side posts signed webhooks through nginx, each body until it
is answered 200; an agent, signed in through the login form (several browser sessions), reads
pages and the API and queues replies with ``POST /api/v1/leads/{id}/messages`` (an
``Idempotency-Key`` each). Meanwhile each serve in turn is restarted as docs/operations.md
"Deploying a release" does: ``deploy/nginx/ovenai-rotation out PORT`` (nginx reloaded with the
server ``down``; it returns once nginx's previous workers, with every request they had passed
on, have exited), SIGTERM (it finishes what it has in hand and exits), started again on its port
and waited for, ``ovenai-rotation in PORT``.

Counted: no answer was a 5xx and no connection failed (webhooks all 200; pages and reads 200,
queued replies 202), every body answered 200 was applied once, and every reply answered 202 is
one queued message.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from drills.nginx_site import NGINX, SITE, site_for_test
from drills.product import (
    SIM,
    Answers,
    Process,
    drill_settings,
    environment,
    free_port,
    fresh_postgres,
    inbound_body,
    pg_url,
    post_until_stored,
    postgres_reachable,
    report,
    start,
    wait_until_live,
)
from ovenai import auth
from ovenai.db import open_database
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.models import Role
from ovenai.settings import Settings
from ovenai.simulator import SimulatorThread
from support.aio import run_async
from support.dashboard import make_user, sign_in

pytestmark = [
    pytest.mark.skipif(
        not postgres_reachable(), reason="SKIPPING: PostgreSQL at 127.0.0.1:5432 is unreachable"
    ),
    pytest.mark.skipif(
        not Path(NGINX).exists(), reason="SKIPPING: nginx is not installed (make install does)"
    ),
]
ROTATION = SITE.with_name("ovenai-rotation")  # the deploy's own step (docs/operations.md)
SETTLE_S = 120.0  # how long the backlog may go without shrinking
AGENT = "agent@example.co.il"
LEADS = 4  # the leads the agent works on (they wrote first: their windows are open)
AGENT_GAP_S = 0.02  # between two rounds of an agent's requests (the box has two cores)


@dataclass(frozen=True)
class Plan:
    """How hard Meta posts, how many browser sessions the agent has, and how often the serves
    are restarted."""

    posters: int
    agents: int
    rounds: int  # each round restarts both serves, one after the other
    pause_s: float  # before the first restart, between two and after the last


SHORT = Plan(posters=3, agents=2, rounds=1, pause_s=1.0)
LONG = Plan(posters=6, agents=4, rounds=3, pause_s=3.0)


@dataclass
class Site:
    """nginx in front of two serves, and what a drill needs of them."""

    name: str
    url: str
    serves: list[tuple[int, Process]]
    env: dict[str, str]
    folder: Path
    conf: Path
    nginx: subprocess.Popen[bytes]
    settings: Settings
    restarts: list[float] = field(default_factory=list)  # seconds from `out` to back `in`
    drains: list[float] = field(default_factory=list)  # seconds `out` took

    def rotation(self, action: str, port: int) -> None:
        """``deploy/nginx/ovenai-rotation ACTION PORT`` against this drill's nginx."""
        env = os.environ | {
            "OVENAI_NGINX_SITE": str(self.conf),
            "NGINX": f"{NGINX} -c {self.conf} -p {self.folder}",
            "OVENAI_NGINX_PID": str(self.folder / "nginx.pid"),
        }
        done = subprocess.run(
            [str(ROTATION), action, str(port)], env=env, capture_output=True, text=True, timeout=90
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def restart(self, index: int) -> None:
        """Serve ``index`` out of nginx's rotation, stopped (SIGTERM, waiting for it to exit),
        started again, live, and back in rotation: docs/operations.md "Deploying a release"."""
        port, serve = self.serves[index]
        began = time.monotonic()
        self.rotation("out", port)
        self.drains.append(round(time.monotonic() - began, 2))
        serve.stop()
        again = start(f"serve-{port}", ["serve", "--port", str(port)], self.env, self.folder)
        wait_until_live(f"http://127.0.0.1:{port}", again)
        self.serves[index] = (port, again)
        self.rotation("in", port)
        self.restarts.append(round(time.monotonic() - began, 2))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with fresh_postgres() as name, SimulatorThread(SIM) as simulator:
        settings = drill_settings(
            pg_url(name, 5432), pg_url(f"{name}_keys", 5432), tmp_path / "var", simulator.base_url
        )
        env = environment(settings, OVENAI_LOG_LEVEL="WARNING", OVENAI_TRUSTED_PROXIES="127.0.0.1")
        ports = [free_port(), free_port()]
        serves = [
            (port, start(f"serve-{port}", ["serve", "--port", str(port)], env, tmp_path))
            for port in ports
        ]
        listen = free_port()
        conf = tmp_path / "nginx.conf"
        upstreams = [f"127.0.0.1:{port}" for port in ports]
        conf.write_text(site_for_test(f"127.0.0.1:{listen}", upstreams, tmp_path))
        for each in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (tmp_path / each).mkdir()
        checked = subprocess.run(
            [NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stderr
        log = (tmp_path / "nginx.out").open("wb")
        nginx = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(tmp_path)], stdout=log, stderr=log
        )
        site = Site(
            name, f"http://127.0.0.1:{listen}", serves, env, tmp_path, conf, nginx, settings
        )
        try:
            for port, serve in serves:
                wait_until_live(f"http://127.0.0.1:{port}", serve)
            wait_until_live(site.url, serves[0][1])
            yield site
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
            log.close()
            for _, serve in site.serves:
                serve.stop()


@dataclass
class Load:
    """What Meta's posters and the agent's sessions were answered and got done."""

    webhooks: Answers = field(default_factory=Answers)
    acknowledged: list[str] = field(default_factory=list)  # wamids answered 200
    pages: Answers = field(default_factory=Answers)  # the agent's dashboard pages
    reads: Answers = field(default_factory=Answers)  # the agent's API reads
    replies: Answers = field(default_factory=Answers)  # POST .../messages, each try
    queued: list[str] = field(default_factory=list)  # idempotency keys answered 202
    unfinished: int = 0  # replies never answered 202 (each was tried until SETTLE_S)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _post(url: str, load: Load, stop: threading.Event, n: int) -> None:
    """Meta's poster: a new sender each time, each body until answered 200."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in itertools.count():
            if stop.is_set():
                return
            wamid = f"wamid.roll.{n}.{i}"
            body = inbound_body(f"97255{n:02d}{i:05d}", wamid, f"roll {n}.{i}", int(time.time()))
            deadline = time.monotonic() + SETTLE_S
            if post_until_stored(client, body, load.webhooks, deadline=deadline, pause_s=0.1):
                with load.lock:
                    load.acknowledged.append(wamid)


def _get(client: httpx.Client, path: str, answers: Answers) -> None:
    try:
        status = client.get(path).status_code
    except httpx.TransportError:
        status = 0
    answers.add(status)


def _reply(client: httpx.Client, lead_id: str, load: Load) -> None:
    """Queue one reply, retrying it with its key until 202 (a lost answer is not a second
    message: the key makes the retry the same request)."""
    key = uuid.uuid4().hex
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        try:
            status = client.post(
                f"/api/v1/leads/{lead_id}/messages",
                json={"text": f"reply {key}"},
                headers={"Idempotency-Key": key},
            ).status_code
        except httpx.TransportError:
            status = 0
        load.replies.add(status)
        if status == 202:
            with load.lock:
                load.queued.append(key)
            return
        time.sleep(0.1)
    with load.lock:
        load.unfinished += 1


def _agent(
    browser: httpx.Client, api: httpx.Client, lead_ids: list[str], load: Load, stop: threading.Event
) -> None:
    """One of the agent's sessions: the inbox and a lead's page, the API's list of leads and
    the lead's messages, then a reply to the lead; lead after lead."""
    for i in itertools.count():
        if stop.is_set():
            return
        lead_id = lead_ids[i % len(lead_ids)]
        for path in ("/", f"/leads/{lead_id}"):
            _get(browser, path, load.pages)
        for path in ("/api/v1/leads", f"/api/v1/leads/{lead_id}/messages"):
            _get(api, path, load.reads)
        _reply(api, lead_id, load)
        time.sleep(AGENT_GAP_S)


def _rows(name: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}") as conn:
        return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]


def _agent_token(settings: Settings) -> str:
    """The agent's API token, made directly in the database (before the drill starts)."""

    async def make() -> str:
        database = open_database(settings)
        try:
            await database.start()
            return (await auth.create_token(database, email=AGENT)).token
        finally:
            await database.dispose()

    return run_async(make)


def _leads(site: Site) -> list[str]:
    """LEADS leads who wrote first (through nginx, before the load), their windows open."""
    with httpx.Client(base_url=site.url, timeout=30) as client:
        for n in range(LEADS):
            body = inbound_body(f"97256{n:07d}", f"wamid.lead.{n}", "hi", int(time.time()))
            assert post_until_stored(client, body, Answers(), deadline=time.monotonic() + 30)
    deadline = time.monotonic() + 60
    while _rows(site.name, "SELECT count(*) FROM leads")[0][0] < LEADS:
        assert time.monotonic() < deadline, "the leads' first messages were not applied"
        time.sleep(0.2)
    return [row[0] for row in _rows(site.name, "SELECT id FROM leads")]


def _wait_for_backlog(site: Site) -> float:
    """Until every stored body is processed (it must keep draining); how long it took."""
    # The backlog of new senders' first messages drains at the processor's pace (slow with
    # the inbound hooks: bench/README.md); it must keep draining, however long it is.
    load_ended = time.monotonic()
    pending = "SELECT count(*) FROM webhook_events WHERE status = 'pending'"
    left, deadline = _rows(site.name, pending)[0][0], time.monotonic() + SETTLE_S
    while left:
        assert time.monotonic() < deadline, f"{left} stored bodies stopped being processed"
        time.sleep(0.5)
        now = _rows(site.name, pending)[0][0]
        if now < left:
            deadline = time.monotonic() + SETTLE_S
        left = now
    return round(time.monotonic() - load_ended, 1)


def _drill(site: Site, plan: Plan) -> dict[str, Any]:
    lead_ids = _leads(site)
    make_user(site.settings, AGENT, Role.AGENT)
    token = _agent_token(site.settings)
    load, stop = Load(), threading.Event()
    sessions = []
    for _ in range(plan.agents):  # signed in through the login form, as a browser does
        browser = httpx.Client(base_url=site.url, timeout=30)
        assert sign_in(browser, AGENT).status_code == 303
        api = httpx.Client(
            base_url=site.url, timeout=30, headers={"Authorization": f"Bearer {token}"}
        )
        sessions.append((browser, api))
    threads = [
        threading.Thread(target=_post, args=(site.url, load, stop, n)) for n in range(plan.posters)
    ] + [
        threading.Thread(target=_agent, args=(browser, api, lead_ids, load, stop))
        for browser, api in sessions
    ]
    try:
        for thread in threads:
            thread.start()
        time.sleep(plan.pause_s)
        for _ in range(plan.rounds):
            for index in range(len(site.serves)):
                site.restart(index)
                time.sleep(plan.pause_s)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=SETTLE_S + 30)
        for browser, api in sessions:
            browser.close()
            api.close()
    drained_s = _wait_for_backlog(site)

    # Meta's webhooks: all answered 200 (no 5xx, no failed connection), each applied once.
    assert set(load.webhooks.counts) == {200}, load.webhooks.counts
    stored = dict(
        _rows(
            site.name,
            "SELECT wa_message_id, count(*) FROM messages"
            " WHERE direction = 'inbound' AND wa_message_id LIKE 'wamid.roll.%'"
            " GROUP BY wa_message_id",
        )
    )
    assert set(stored) == set(load.acknowledged)
    assert set(stored.values()) == {1}
    # The agent's requests: no 5xx and no failed connection either; each reply queued once.
    assert set(load.pages.counts) == {200}, load.pages.counts
    assert set(load.reads.counts) == {200}, load.reads.counts
    assert set(load.replies.counts) == {202}, load.replies.counts
    assert load.unfinished == 0
    queued = Counter(
        row[0]
        for row in _rows(
            site.name, "SELECT idempotency_key FROM messages WHERE direction = 'outbound'"
        )
    )
    assert set(queued) == set(load.queued)
    assert set(queued.values()) == {1}
    assert site.nginx.poll() is None
    return {
        "webhooks posted": sum(load.webhooks.counts.values()),
        "webhooks answered 200": load.webhooks.counts.get(200, 0),
        "pages answered 200": load.pages.counts.get(200, 0),
        "API reads answered 200": load.reads.counts.get(200, 0),
        "replies answered 202": load.replies.counts.get(202, 0),
        "replies queued": len(queued),
        "restarts": len(site.restarts),
        "out of rotation, nothing in flight (s)": site.drains,
        "out of rotation to back in (s)": site.restarts,
        "backlog applied after the load (s)": drained_s,
    }


def test_the_shipped_site_is_valid_for_nginx(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    upstreams = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    conf.write_text(site_for_test(f"127.0.0.1:{free_port()}", upstreams, tmp_path))
    checked = subprocess.run(
        [NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    # The webhook's own location (passed on even after a server may have got the body) is
    # the path the product serves Meta's webhooks on.
    assert f"location = {WEBHOOK_PATH} {{" in conf.read_text()


def test_a_rolling_restart_behind_nginx_answers_no_request_with_an_error_short(
    site: Site,
) -> None:
    _drill(site, SHORT)


@pytest.mark.drills
def test_rolling_restarts_behind_nginx_under_webhook_and_api_load_lose_nothing(
    site: Site,
) -> None:
    report("rolling-restart", _drill(site, LONG))
