"""Drill: the PostgreSQL primary killed under load, its synchronous replica promoted, counted.

Two clusters of the drill's own on this machine (``pg_cluster.Pair``: a primary streaming to
a replica that it waits for on every commit, the setting docs/operations.md "Database
failover" documents), and real ``ovenai serve`` and ``ovenai worker`` processes given both
servers in one URL with ``target_session_attrs=read-write``. While signed webhooks are
posted and messages queued through the API (``under_load``), the primary's processes are
killed with SIGKILL and, after a detection delay, the replica is promoted (``pg_ctl
promote``), as an operator or a failover manager would.

Counted afterwards, as in the PostgreSQL-gone drill: every answer is 200/503 (202/503 for the
API); every webhook answered 200 is applied exactly once, each new sender one lead; every
message answered 202 is one row, sent or failed with Meta's reason (accepted twice at most,
when the failover took a send's outcome); the same two processes did it all, now on the
promoted server (they found it by themselves), and ``/health`` is 200.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from drills.pg_cluster import Pair, can_make_clusters, primary_and_replica
from drills.product import (
    SIM,
    admin_token,
    drill_settings,
    report,
)
from drills.under_load import Plan, Product, run, started
from ovenai.db import upgrade, upgrade_keystore
from ovenai.simulator import SimulatorThread

WHY_NOT = can_make_clusters()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"SKIPPING: {WHY_NOT}")
NAME = "ovenai"

# outage_s: from the kill to the promotion (the time a failover manager takes to decide).
SHORT = Plan(
    leads=6, posters=2, post_gap_s=0.05, send_gap_s=0.1, before_s=2.0, outage_s=2.0, after_s=2.0
)
LONG = Plan(
    leads=40, posters=4, post_gap_s=0.02, send_gap_s=0.05, before_s=8.0, outage_s=5.0, after_s=10.0
)


@dataclass
class Failover:
    """The product on a primary and its replica."""

    product: Product
    pair: Pair
    promoted_after_s: float = 0.0

    def outage(self, plan: Plan) -> None:
        """Kill the primary, wait ``outage_s``, promote the replica."""
        assert self.pair.replica_is_synchronous()
        self.pair.kill_primary()
        time.sleep(plan.outage_s)
        began = time.monotonic()
        self.pair.promote()
        self.promoted_after_s = round(time.monotonic() - began, 2)


def _reader(pair: Pair) -> Any:
    """Read the drill's database on whichever server is the primary now."""

    def rows(sql: str) -> list[tuple[Any, ...]]:
        for cluster in (pair.replica, pair.primary):
            try:
                if cluster.is_primary():
                    with psycopg.connect(cluster.dsn(NAME)) as conn:
                        return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]
            except psycopg.OperationalError:
                continue
        raise AssertionError("no server accepts writes")

    return rows


@pytest.fixture
def failover(tmp_path: Path) -> Iterator[Failover]:
    """A primary and its replica, the databases migrated, a simulator, serve and worker."""
    with primary_and_replica() as pair, SimulatorThread(SIM) as simulator:
        with psycopg.connect(pair.primary.dsn(), autocommit=True) as conn:
            for each in (NAME, f"{NAME}_keys"):
                conn.execute(f'CREATE DATABASE "{each}"')
        settings = drill_settings(
            pair.url(NAME), pair.url(f"{NAME}_keys"), tmp_path / "var", simulator.base_url
        )
        upgrade(settings.database_url)
        upgrade_keystore(pair.url(f"{NAME}_keys"))
        token = admin_token(settings)
        with started(settings, token, simulator, _reader(pair), tmp_path) as product:
            yield Failover(product, pair)


def _drill(failover: Failover, plan: Plan) -> dict[str, Any]:
    figures = run(failover.product, plan, failover.outage)
    # Everything after the kill was written on the promoted server, and the old primary is gone.
    assert failover.pair.replica.is_primary()
    assert failover.pair.primary.postmaster_pid is None or not _answers(failover.pair)
    return figures | {
        "killed to promoted (s)": plan.outage_s,
        "promotion took (s)": failover.promoted_after_s,
    }


def _answers(pair: Pair) -> bool:
    try:
        with psycopg.connect(pair.primary.dsn()):
            return True
    except psycopg.OperationalError:
        return False


def test_primary_killed_and_replica_promoted_loses_nothing_short(failover: Failover) -> None:
    _drill(failover, SHORT)


@pytest.mark.drills
def test_primary_killed_under_load_and_replica_promoted_loses_nothing(failover: Failover) -> None:
    report("database-failover", _drill(failover, LONG))
