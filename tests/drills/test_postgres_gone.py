"""Drill: PostgreSQL gone for a while under webhook and send load, counted.

Real ``ovenai serve`` and ``ovenai worker`` processes reach PostgreSQL through a loopback
proxy (``pg_proxy.CutProxy``; the machine's server is shared and never stopped). While
signed webhooks are posted and messages queued through the API, the proxy is cut (every
connection closed, new ones refused) and restored. Meta's side posts each body until it is
answered 200, as Meta retries; the API's client queues each message until it is answered
202, with one ``Idempotency-Key`` per message.

Counted afterwards (docs/drills.md "PostgreSQL gone"):

* every webhook answer is 200 or 503 (never a 500, never a dropped connection), and 503s
  were met: the outage was felt;
* every body answered 200 was applied exactly once: its message is stored once, each new
  sender is one lead, and no stored body is left pending or failed;
* every API answer is 202 or 503, and every message answered 202 is one row that ends
  ``sent`` (accepted by the simulator: once, or twice when the outage took its outcome) or
  ``failed`` with Meta's reason;
* the same two processes did it all: both still run, the worker sent what was queued after
  the restore, its wake-ups connection ``LISTEN``s again, and ``/health`` is 200 again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from drills.pg_proxy import CutProxy
from drills.product import (
    SIM,
    admin_token,
    drill_settings,
    fresh_postgres,
    pg_url,
    postgres_reachable,
    report,
)
from drills.under_load import Plan, Product, run, started
from ovenai.simulator import SimulatorThread

pytestmark = pytest.mark.skipif(
    not postgres_reachable(), reason="SKIPPING: PostgreSQL at 127.0.0.1:5432 is unreachable"
)

SHORT = Plan(
    leads=6, posters=2, post_gap_s=0.05, send_gap_s=0.1, before_s=1.5, outage_s=3.0, after_s=1.5
)
LONG = Plan(
    leads=40, posters=4, post_gap_s=0.02, send_gap_s=0.05, before_s=5.0, outage_s=10.0, after_s=10.0
)


def _reader(name: str) -> Callable[[str], list[tuple[Any, ...]]]:
    """Read the drill's database directly (port 5432, not through the proxy)."""

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}") as conn:
            return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]

    return rows


@dataclass
class Running:
    """The product under attack, and the proxy between it and PostgreSQL."""

    product: Product
    proxy: CutProxy

    def outage(self, plan: Plan) -> None:
        """PostgreSQL gone: every connection cut and new ones refused for ``outage_s``."""
        self.proxy.cut()
        time.sleep(plan.outage_s)
        self.proxy.restore()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    """A fresh database pair behind a proxy, a simulator, serve and worker processes."""
    proxy = CutProxy()
    port = proxy.start()
    with fresh_postgres() as name, SimulatorThread(SIM) as simulator:
        settings = drill_settings(
            pg_url(name, port), pg_url(f"{name}_keys", port), tmp_path / "var", simulator.base_url
        )
        token = admin_token(settings)
        try:
            with started(settings, token, simulator, _reader(name), tmp_path) as product:
                yield Running(product, proxy)
        finally:
            proxy.close()


def test_postgres_gone_for_seconds_loses_nothing_short(running: Running) -> None:
    run(running.product, SHORT, running.outage)


@pytest.mark.drills
def test_postgres_gone_for_ten_seconds_under_load_loses_nothing(running: Running) -> None:
    report("postgres-gone", run(running.product, LONG, running.outage))
