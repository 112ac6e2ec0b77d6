"""Drill: a rolling restart of two ``ovenai serve`` behind nginx while Meta posts webhooks.

The shipped nginx site (``deploy/nginx/ovenai.conf``) is run by Debian's nginx as it is, but
for what a test on loopback must change: the upstream's two servers are the drill's ports,
it listens on a loopback port without TLS (the redirect to HTTPS and the certificate lines are
left out), and its files are in the test's folder. Two ``ovenai serve`` share a fresh
PostgreSQL database pair. Meta's side posts signed webhooks through nginx, each body until it
is answered 200; meanwhile each serve in turn is stopped (SIGTERM: it finishes what it has in
hand and exits), started again on its port and waited for, and the next is stopped only after
nginx's ``fail_timeout`` has passed, as docs/operations.md "Deploying a release" does.

Counted: no answer was a 5xx and no connection failed (nginx passed every request a stopping
server could not take to the other one), and every body answered 200 was applied once.
"""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from drills.nginx_site import NGINX, REJOIN_S, site_for_test
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
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.simulator import SimulatorThread

pytestmark = [
    pytest.mark.skipif(
        not postgres_reachable(), reason="SKIPPING: PostgreSQL at 127.0.0.1:5432 is unreachable"
    ),
    pytest.mark.skipif(
        not Path(NGINX).exists(), reason="SKIPPING: nginx is not installed (make install does)"
    ),
]
SETTLE_S = 120.0  # how long the backlog may go without shrinking


@dataclass(frozen=True)
class Plan:
    """How hard Meta posts and how often the serves are restarted."""

    posters: int
    rounds: int  # each round restarts both serves, one after the other
    pause_s: float  # between two restarts, beside REJOIN_S


SHORT = Plan(posters=3, rounds=1, pause_s=1.0)
LONG = Plan(posters=6, rounds=3, pause_s=3.0)


@dataclass
class Site:
    """nginx in front of two serves, and what a drill needs of them."""

    name: str
    url: str
    serves: list[tuple[int, Process]]
    env: dict[str, str]
    folder: Path
    nginx: subprocess.Popen[bytes]
    restarts: list[float] = field(default_factory=list)  # seconds each serve took to be live

    def restart(self, index: int) -> None:
        """Stop serve ``index`` (SIGTERM, waiting for it to exit) and start it again."""
        port, serve = self.serves[index]
        began = time.monotonic()
        serve.stop()
        again = start(f"serve-{port}", ["serve", "--port", str(port)], self.env, self.folder)
        wait_until_live(f"http://127.0.0.1:{port}", again)
        self.restarts.append(round(time.monotonic() - began, 2))
        self.serves[index] = (port, again)


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
        site = Site(name, f"http://127.0.0.1:{listen}", serves, env, tmp_path, nginx)
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
class Posted:
    answers: Answers = field(default_factory=Answers)
    acknowledged: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _post(url: str, posted: Posted, stop: threading.Event, n: int) -> None:
    """Meta's poster: a new sender each time, each body until answered 200."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in itertools.count():
            if stop.is_set():
                return
            wamid = f"wamid.roll.{n}.{i}"
            body = inbound_body(f"97255{n:02d}{i:05d}", wamid, f"roll {n}.{i}", int(time.time()))
            deadline = time.monotonic() + SETTLE_S
            if post_until_stored(client, body, posted.answers, deadline=deadline, pause_s=0.1):
                with posted.lock:
                    posted.acknowledged.append(wamid)


def _rows(name: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}") as conn:
        return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]


def _drill(site: Site, plan: Plan) -> dict[str, Any]:
    posted, stop = Posted(), threading.Event()
    threads = [
        threading.Thread(target=_post, args=(site.url, posted, stop, n))
        for n in range(plan.posters)
    ]
    for thread in threads:
        thread.start()
    time.sleep(plan.pause_s)
    for _ in range(plan.rounds):
        for index in range(len(site.serves)):
            site.restart(index)
            time.sleep(REJOIN_S + plan.pause_s)
    stop.set()
    for thread in threads:
        thread.join(timeout=SETTLE_S)
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
    drained_s = round(time.monotonic() - load_ended, 1)

    assert set(posted.answers.counts) == {200}, posted.answers.counts  # no 5xx, no failure
    stored = dict(
        _rows(
            site.name,
            "SELECT wa_message_id, count(*) FROM messages"
            " WHERE direction = 'inbound' GROUP BY wa_message_id",
        )
    )
    assert set(stored) == set(posted.acknowledged)
    assert set(stored.values()) == {1}
    assert site.nginx.poll() is None
    return {
        "webhooks posted": sum(posted.answers.counts.values()),
        "answered 200": posted.answers.counts.get(200, 0),
        "restarts": len(site.restarts),
        "stop to live again (s)": site.restarts,
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


def test_a_rolling_restart_behind_nginx_answers_no_webhook_with_an_error_short(site: Site) -> None:
    _drill(site, SHORT)


@pytest.mark.drills
def test_rolling_restarts_behind_nginx_under_webhook_load_lose_nothing(site: Site) -> None:
    report("rolling-restart", _drill(site, LONG))
