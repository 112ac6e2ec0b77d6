"""What each workspace page costs serve, whatever the box's load: CPU time and SQL statements.

On the data set of :mod:`bench.workspace_pages` (build it first; it is reused as it is), the
application runs in this process (``create_app``, its lifespan, httpx's ASGI transport: no
socket, no other client), an admin and an agent sign in, and each page of the workspace
bench is loaded ``--runs`` times by each, one at a time. For each page and role:

* CPU ms: this process's CPU time (every thread: the event loop, aiosqlite's and psycopg's)
  per page, the client's small share included; it does not grow with the box's load, as
  wall time does (a page waiting for a core is not running);
* data / keys: SQL statements sent to the main database and to the key store per page
  (a ``before_cursor_execute`` counter on both engines);
* connections: the main database's connections taken from the pool per page (each is a
  transaction of its own: BEGIN and ROLLBACK or COMMIT, and a ping on checkout, beside the
  statements);
* round trips: what the page sent the main database and waited for: its statements, a ping
  per connection taken (``pool_pre_ping``) and each BEGIN, COMMIT and ROLLBACK (engine
  events; a session joined to another's transaction sends none of them);
* wall ms: the time the page took, which the database's own time is part of.

``--only NAME`` measures that page only (repeatable). ``--profile FILE`` also writes the
event loop thread's cProfile of every measured page, sorted by own time and by cumulative
time (what :mod:`pstats` prints).

    .venv/bin/python -m bench.page_costs --runs 20
    .venv/bin/python -m bench.page_costs --runs 20 --profile /tmp/pages.prof.txt
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import statistics
import time
from collections import defaultdict
from typing import Any

import httpx
import psycopg
from sqlalchemy import event

from bench.process import box_speed_s
from bench.webhooks.bodies import WABA_ID
from bench.webhooks.common import PG_ADMIN
from bench.workspace_pages import ADMINS, NAME, PHONE_ID, STATE, Agent
from ovenai.db import Database
from ovenai.settings import load_settings
from ovenai.web.app import create_app

BASE = "http://pages.test"


class Counter:
    """Statements sent through an engine since the last :meth:`take`."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_args: Any) -> None:
        self.count += 1

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def _environment() -> None:
    saved = STATE / "env.json"
    if not saved.exists():
        raise SystemExit("no data set: run `python -m bench.workspace_pages` first")
    env: dict[str, str] = json.loads(saved.read_text())
    os.environ.update(env)
    os.environ.update(
        {
            "WHATSAPP_ACCESS_TOKEN": "bench-token",
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
            "WHATSAPP_BUSINESS_ACCOUNT_ID": WABA_ID,
            "WHATSAPP_API_BASE_URL": "http://127.0.0.1:9",
            "WHATSAPP_WEBHOOK_VERIFY_TOKEN": "bench-verify",
        }
    )


def _property_id() -> str:
    with psycopg.connect(PG_ADMIN.replace("dbname=postgres", f"dbname={NAME}")) as conn:
        row = conn.execute("SELECT id FROM properties ORDER BY id LIMIT 1").fetchone()
        assert row is not None
        return str(row[0])


async def measure(args: argparse.Namespace) -> None:
    sizes = json.loads((STATE / "sizes.json").read_text())
    app = create_app(load_settings())
    db: Database = app.state.db
    data, keys, checkouts, trips = Counter(), Counter(), Counter(), Counter()
    event.listen(db.engine.sync_engine, "before_cursor_execute", data)
    event.listen(db.vault.engine.sync_engine, "before_cursor_execute", keys)
    event.listen(db.engine.sync_engine.pool, "checkout", checkouts)
    for name in ("before_cursor_execute", "begin", "commit", "rollback"):
        event.listen(db.engine.sync_engine, name, trips)
    event.listen(db.engine.sync_engine.pool, "checkout", trips)
    named = min(sizes["named"], sizes["leads"])
    rows: dict[str, dict[str, list[tuple[float, float, int, int, int, int]]]] = defaultdict(dict)
    profile = cProfile.Profile() if args.profile else None
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        agents = [Agent(BASE, n, sizes["leads"], named) for n in (0, ADMINS)]
        for agent in agents:
            await agent.http.aclose()
            agent.http = httpx.AsyncClient(transport=transport, base_url=BASE)
            await agent.sign_in()
            await agent.discover(_property_id())
        for agent in agents:
            role = "admin" if agent.n < ADMINS else "agent"
            for name in agent.pages:
                if args.only and name not in args.only:
                    continue
                runs = args.matches_runs if name == "property matches" else args.runs
                await agent.load(name)  # warm: plans, caches
                found: list[tuple[float, float, int, int, int, int]] = []
                for _ in range(runs):
                    data.take(), keys.take(), checkouts.take(), trips.take()
                    cpu, wall = time.process_time(), time.perf_counter()
                    if profile:
                        profile.enable()
                    await agent.load(name)
                    if profile:
                        profile.disable()
                    cpu = (time.process_time() - cpu) * 1000
                    wall = (time.perf_counter() - wall) * 1000
                    taken = (data.take(), keys.take(), checkouts.take(), trips.take())
                    found.append((cpu, wall, *taken))
                rows[name][role] = found
        for agent in agents:
            await agent.http.aclose()
    print(
        f"leads={sizes['leads']:,} messages={sizes['messages']:,}; runs {args.runs} a page "
        f"and role; box loop {box_speed_s()} s, load {os.getloadavg()[0]:.2f}; "
        f"unexpected answers: {dict(Agent.failed)}"
    )
    print(
        "| page | CPU ms admin · agent | statements data+keys admin · agent "
        "| connections admin · agent | round trips admin · agent | wall ms admin · agent |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, by_role in rows.items():
        cpu_ms, wall_ms, pool, sent = (
            _cells(by_role, i, ".1f" if i == 0 else ".0f") for i in (0, 1, 4, 5)
        )
        sql = " · ".join(
            f"{statistics.median(r[2] for r in found):.0f}"
            f"+{statistics.median(r[3] for r in found):.0f}"
            for found in by_role.values()
        )
        print(f"| {name} | {cpu_ms} | {sql} | {pool} | {sent} | {wall_ms} |")
    if profile and args.profile:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(80)
        with open(args.profile, "w") as file:
            file.write(out.getvalue())
        print(f"profile: {args.profile}")


def _cells(
    by_role: dict[str, list[tuple[float, float, int, int, int, int]]], i: int, spec: str
) -> str:
    """The median of one measure, admin · agent."""
    return " · ".join(
        format(statistics.median(r[i] for r in found), spec) for found in by_role.values()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--matches-runs", type=int, default=2)
    parser.add_argument("--profile", help="write the cProfile of the measured pages here")
    parser.add_argument("--only", action="append", help="this page only (repeatable)")
    args = parser.parse_args()
    _environment()
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
