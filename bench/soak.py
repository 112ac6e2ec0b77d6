"""Soak: mixed load for a long while, with each process's memory and the p99s sampled.

The product runs as in production, as real commands: ``ovenai serve`` (applying the webhooks
it stores) and ``ovenai worker`` on a fresh database (PostgreSQL by default) with the seed
templates and the default rules, sending to the bundled simulator, which runs in this
process, posts the leads' messages to serve as signed webhooks and answers every accepted
send with its ``sent``, ``delivered`` and ``read`` status webhooks. For ``--minutes``
(default 30), at the same time:

* **webhooks**: ``--leads-rate`` leads' messages a second (default 20; one in ten from a
  first-time sender, who becomes a lead and is greeted by automation, the others from
  ``--known`` senders), each timed from asking the simulator until serve acknowledged it;
* **sends**: ``--send-rate`` agents' free-text replies a second (default 5) through
  ``POST /api/v1/leads/{id}/messages`` to leads who wrote (202, timed), plus automation's
  greetings, each answered by three status webhooks;
* **dashboard reads**: ``--read-rate`` pages a second (default 5) by a signed-in admin: the
  inbox, a lead's page and its conversation, in turn (timed).

Every ``--sample`` seconds (default 10) it reads the resident memory (``VmRSS``) of serve
and the worker from ``/proc`` and each load's p99 over that window. At the end it writes
the samples (``bench/results/soak-<date>.csv``) and a plot of both over time
(``bench/results/soak-<date>.png``), and prints the verdict: memory after the warm-up
(the first ``--warmup`` minutes, default 5) grew by at most 10 % of its value then, and
each p99 of the last third of the run against its first third.

    .venv/bin/python -m bench.soak                     # 30 minutes, PostgreSQL
    .venv/bin/python -m bench.soak --minutes 3 --warmup 1 --db sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import matplotlib

from bench.automation_latency import prepare, product_env, simulator_config, start, wait_up
from bench.process import box_speed_s, free_port
from bench.webhooks.common import fresh_database, settings_from
from ovenai import auth
from ovenai.db import open_database
from ovenai.models import Role
from ovenai.simulator import SimulatorThread

matplotlib.use("Agg")  # no screen: draw into a file
from matplotlib import pyplot  # noqa: E402  (after choosing the file backend)

ADMIN = "soak-admin@agency.co.il"
PASSWORD = "soak password, long enough"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TEXTS = ("היי, ראיתי את הדירה בתל אביב", "מה המחיר?", "אפשר לקבוע צפייה מחר?", "Is it still free?")
RESULTS = Path(__file__).parent / "results"
KINDS = ("webhook", "send", "read")


@dataclass
class Window:
    """What one sample interval saw: each load's durations (ms) and failures."""

    took: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class Soak:
    """The run's state shared by the loads and the sampler."""

    args: argparse.Namespace
    sim_url: str
    base: str
    token: str = ""
    window: Window = field(default_factory=Window)
    wrote: list[str] = field(default_factory=list)  # phones of leads who wrote (for replies)
    samples: list[dict[str, float]] = field(default_factory=list)

    def note(self, kind: str, began: float, ok: bool) -> None:
        if ok:
            self.window.took[kind].append((time.perf_counter() - began) * 1000)
        else:
            self.window.failed[kind] += 1


Step = Callable[[int], Coroutine[Any, Any, None]]


async def paced(rate: float, until: float, step: Step) -> None:
    """Call ``step(n)`` ``rate`` times a second (each in its own task) until ``until``."""
    tasks: set[asyncio.Task[None]] = set()
    started = time.monotonic()
    n = 0
    while time.monotonic() < until:
        await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        task = asyncio.create_task(step(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
    if tasks:
        await asyncio.wait(tasks)


async def webhooks(soak: Soak, http: httpx.AsyncClient, until: float) -> None:
    rng = random.Random(1)

    async def step(n: int) -> None:
        fresh = n % 10 == 0
        number = 5_000_000 + n if fresh else rng.randrange(soak.args.known)
        wa_id = f"97252{number:07d}"
        spec = {"from": wa_id, "name": f"Lead {number}", "type": "text", "text": TEXTS[n % 4]}
        began = time.perf_counter()
        try:
            answer = await http.post(f"{soak.sim_url}/_sim/inbound", json=spec)
            ok = answer.status_code == 200
        except httpx.HTTPError:
            ok = False
        soak.note("webhook", began, ok)
        if ok and len(soak.wrote) < 5_000:
            soak.wrote.append(wa_id)

    await paced(soak.args.leads_rate, until, step)


async def sends(soak: Soak, http: httpx.AsyncClient, until: float) -> None:
    rng = random.Random(2)
    ids: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {soak.token}"}

    async def step(n: int) -> None:
        if not soak.wrote:
            return
        phone = rng.choice(soak.wrote)
        began = time.perf_counter()
        try:
            if phone not in ids:
                found = await http.get("/api/v1/leads", params={"phone": phone}, headers=headers)
                items = found.json().get("items", []) if found.status_code == 200 else []
                if not items:
                    return  # not applied yet: another lead next time
                ids[phone] = items[0]["id"]
            answer = await http.post(
                f"/api/v1/leads/{ids[phone]}/messages",
                json={"text": f"תודה! נחזור אליך בהקדם ({n})"},
                headers=headers,
            )
            ok = answer.status_code == 202
        except httpx.HTTPError:
            ok = False
        soak.note("send", began, ok)

    await paced(soak.args.send_rate, until, step)


async def reads(soak: Soak, http: httpx.AsyncClient, until: float) -> None:
    token = CSRF.search((await http.get("/login")).text)
    assert token is not None, "no sign-in form"
    form = {"email": ADMIN, "password": PASSWORD, "csrf": token.group(1)}
    if (await http.post("/login", data=form)).status_code != 303:
        raise SystemExit("the admin could not sign in")
    lead_ids: list[str] = []
    headers = {"Authorization": f"Bearer {soak.token}"}

    async def step(n: int) -> None:
        if not lead_ids or n % 50 == 0:  # now and then, the newest leads
            found = await http.get("/api/v1/leads", params={"limit": 50}, headers=headers)
            lead_ids[:] = [item["id"] for item in found.json().get("items", [])]
        pages = ["/"]
        if lead_ids:
            lead = lead_ids[n % len(lead_ids)]
            pages += [f"/leads/{lead}", f"/leads/{lead}/conversation"]
        began = time.perf_counter()
        try:
            answer = await http.get(pages[n % len(pages)])
            ok = answer.status_code == 200
        except httpx.HTTPError:
            ok = False
        soak.note("read", began, ok)

    await paced(soak.args.read_rate, until, step)


def rss_mb(pid: int) -> float:
    """A process's resident memory now, in MB (``VmRSS`` of /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def sampler(soak: Soak, pids: dict[str, int], started: float, until: float) -> None:
    while time.monotonic() < until:
        await asyncio.sleep(soak.args.sample)
        window, soak.window = soak.window, Window()
        row: dict[str, float] = {"minute": round((time.monotonic() - started) / 60, 2)}
        for name, pid in pids.items():
            row[f"{name}_rss_mb"] = round(rss_mb(pid), 1)
        for kind in KINDS:
            row[f"{kind}_p99_ms"] = round(p99(window.took[kind]), 1)
            row[f"{kind}_count"] = len(window.took[kind])
            row[f"{kind}_failed"] = window.failed[kind]
        soak.samples.append(row)
        print(" ".join(f"{key}={value}" for key, value in row.items()), flush=True)


async def load(soak: Soak, pids: dict[str, int]) -> None:
    started = time.monotonic()
    until = started + soak.args.minutes * 60
    limits = httpx.Limits(max_connections=100)
    async with (
        httpx.AsyncClient(timeout=60.0, limits=limits) as sim_http,
        httpx.AsyncClient(base_url=soak.base, timeout=60.0, limits=limits) as api,
        httpx.AsyncClient(base_url=soak.base, timeout=60.0, limits=limits) as browser,
    ):
        await asyncio.gather(
            webhooks(soak, sim_http, until),
            sends(soak, api, until),
            reads(soak, browser, until),
            sampler(soak, pids, started, until),
        )


async def people(env: dict[str, str]) -> str:
    """The admin who signs in, and an API token of theirs."""
    db = open_database(settings_from(env))
    await db.start()
    try:
        await auth.create_user(db, email=ADMIN, role=Role.ADMIN, password=PASSWORD)
        return (await auth.create_token(db, email=ADMIN, name="soak")).token
    finally:
        await db.dispose()


def verdict(args: argparse.Namespace, samples: list[dict[str, float]]) -> list[str]:
    """Memory growth after the warm-up, and the p99s' last third against their first."""
    warm = [s for s in samples if s["minute"] > args.warmup]
    lines = []
    for name in ("serve", "worker"):
        key = f"{name}_rss_mb"
        if len(warm) < 2:
            break
        first, last, peak = warm[0][key], warm[-1][key], max(s[key] for s in warm)
        growth = (peak - first) / first
        lines.append(
            f"{name}: {first:.0f} MB after the warm-up, {last:.0f} MB at the end, peak {peak:.0f}"
            f" MB: growth {growth:+.1%} ({'flat' if growth <= 0.10 else 'GROWING'}, limit 10 %)"
        )
    third = max(1, len(samples) // 3)
    for kind in KINDS:
        head = [s[f"{kind}_p99_ms"] for s in samples[:third] if s[f"{kind}_count"]]
        tail = [s[f"{kind}_p99_ms"] for s in samples[-third:] if s[f"{kind}_count"]]
        done = sum(int(s[f"{kind}_count"]) for s in samples)
        failed = sum(int(s[f"{kind}_failed"]) for s in samples)
        if head and tail:
            lines.append(
                f"{kind}: {done:,} done, {failed} failed; p99 median first third "
                f"{statistics.median(head):.0f} ms, last third {statistics.median(tail):.0f} ms"
            )
    return lines


def write(samples: list[dict[str, float]], stem: Path) -> None:
    with stem.with_suffix(".csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(samples[0]))
        writer.writeheader()
        writer.writerows(samples)
    minutes = [s["minute"] for s in samples]
    figure, (memory, latency) = pyplot.subplots(2, 1, figsize=(10, 7), sharex=True)
    for name in ("serve", "worker"):
        memory.plot(minutes, [s[f"{name}_rss_mb"] for s in samples], label=name)
    memory.set_ylabel("resident memory (MB)")
    memory.set_ylim(bottom=0)
    memory.legend()
    for kind in KINDS:
        latency.plot(minutes, [s[f"{kind}_p99_ms"] for s in samples], label=f"{kind} p99")
    latency.set_ylabel("p99 per sample (ms)")
    latency.set_xlabel("minutes")
    latency.set_yscale("log")
    latency.legend()
    figure.suptitle("OvenAI soak: memory and p99 over time")
    figure.savefig(stem.with_suffix(".png"), dpi=100)


def run(args: argparse.Namespace) -> None:
    with fresh_database(args.db) as env:
        asyncio.run(prepare(env))
        token = asyncio.run(people(env))
        port = free_port()
        sim = simulator_config(port, outbox_limit=1_000)
        with SimulatorThread(sim) as simulator:
            full = product_env(env, sim, simulator.base_url)
            serve = start(["serve", "--port", str(port)], full)
            worker = start(["worker"], full)
            try:
                asyncio.run(wait_up(f"http://127.0.0.1:{port}/health/live"))
                base = f"http://127.0.0.1:{port}"
                soak = Soak(args, simulator.base_url, base, token)
                asyncio.run(load(soak, {"serve": serve.pid, "worker": worker.pid}))
            finally:
                for proc in (serve, worker):
                    proc.terminate()
                for proc in (serve, worker):
                    proc.wait(timeout=60)
    stem = RESULTS / f"soak-{date.today().isoformat()}-{args.db}"
    RESULTS.mkdir(exist_ok=True)
    write(soak.samples, stem)
    print(
        f"db={args.db} {args.minutes} min; webhooks {args.leads_rate}/s, sends "
        f"{args.send_rate}/s, reads {args.read_rate}/s; box loop {box_speed_s()} s, "
        f"load {os.getloadavg()}; samples in {stem}.csv, plot in {stem}.png"
    )
    for line in verdict(args, soak.samples):
        print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--sample", type=float, default=10.0)
    parser.add_argument("--leads-rate", type=float, default=20.0)
    parser.add_argument("--send-rate", type=float, default=5.0)
    parser.add_argument("--read-rate", type=float, default=5.0)
    parser.add_argument("--known", type=int, default=2_000)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
