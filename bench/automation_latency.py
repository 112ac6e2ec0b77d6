"""From a lead's message to the automated reply Meta accepted: the latency of the greeting.

The product runs as in production, as real commands: ``ovenai serve`` and ``ovenai worker``
on a fresh database (SQLite or PostgreSQL) with the seed templates and the default rules,
sending to the bundled simulator, which runs in this process and posts the leads' messages
to serve as signed webhooks. ``--leads`` strangers (default 1,000) each write "היי, ראיתי את
הדירה בתל אביב" once, spread evenly over ``--seconds`` (default 60). For each, the latency
runs from just before this process asks the simulator to deliver the message to the moment
the simulator accepted the welcome template sent back (its clock is this process's clock).

    .venv/bin/python -m bench.automation_latency --db sqlite
    .venv/bin/python -m bench.automation_latency --db postgresql
    .venv/bin/python -m bench.automation_latency --db sqlite --processing worker

``--processing serve`` (default: ``ovenai serve`` applies the webhooks it stores, the worker
sends) or ``worker`` (``OVENAI_WEBHOOK_PROCESS_IN_SERVE=false``: the worker applies and
sends).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.process import box_speed_s, free_port
from bench.webhooks.common import APP_SECRET, fresh_database, settings_from
from ovenai import automation, templates
from ovenai.db import open_database
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.simulator import SimulatorConfig, SimulatorThread
from ovenai.simulator.inbound import default_bsuid

TOKEN = "bench-token"
PHONE_ID = "420000000000009"
WABA = "310000000000009"
TEXT = "היי, ראיתי את הדירה בתל אביב"


async def prepare(env: dict[str, str]) -> None:
    """The seed templates for the simulator's account and the default rules."""
    db = open_database(settings_from(env))
    await db.start()
    try:
        async with db.session() as session:
            await templates.load_seed(session, waba_id=WABA)
            await session.commit()
        await automation.seed_rules(db)
    finally:
        await db.dispose()


def simulator_config(
    port: int, *, phone_id: str = PHONE_ID, waba: str = WABA, **changes: Any
) -> SimulatorConfig:
    """The bundled simulator as Meta to a product serving on ``port``: the bench's account,
    templates approved at once, no throughput cap; ``changes`` set the rest."""
    return SimulatorConfig(
        access_token=TOKEN,
        phone_number_id=phone_id,
        business_account_id=waba,
        app_secret=APP_SECRET,
        webhook_url=f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
        template_review_s=None,
        mps_cap=None,
        **changes,
    )


def product_env(env: dict[str, str], simulator: SimulatorConfig, url: str) -> dict[str, str]:
    """The environment of ``ovenai serve`` and ``ovenai worker`` on the bench's database
    (``env``), sending to the simulator at ``url`` as its account, with no messaging tier."""
    return (
        dict(os.environ)
        | env
        | {
            "WHATSAPP_ACCESS_TOKEN": simulator.access_token,
            "WHATSAPP_PHONE_NUMBER_ID": simulator.phone_number_id,
            "WHATSAPP_BUSINESS_ACCOUNT_ID": simulator.business_account_id,
            "WHATSAPP_API_BASE_URL": url,
            "WHATSAPP_WEBHOOK_VERIFY_TOKEN": "bench-verify",
            "OVENAI_MESSAGING_TIER": "unlimited",
        }
    )


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "ovenai"), *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=None if os.environ.get("BENCH_VERBOSE") else subprocess.DEVNULL,
    )


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(url) as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


async def drive(sim_url: str, leads: int, seconds: float) -> dict[str, float]:
    """Ask the simulator for one message a lead, evenly spread; when each was asked for."""
    asked: dict[str, float] = {}
    gap = seconds / leads
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        for n in range(leads):
            await asyncio.sleep(max(0.0, started + n * gap - time.monotonic()))
            wa_id = f"97250{n:07d}"
            spec = {"from": wa_id, "name": f"Lead {n}", "type": "text", "text": TEXT}
            asked[default_bsuid(wa_id)] = asked[wa_id] = time.time()
            async with http.post(f"{sim_url}/_sim/inbound", json=spec) as answer:
                if answer.status != 200:
                    raise SystemExit(f"the simulator refused: {await answer.text()}")
    return asked


async def collect(sim_url: str, leads: int, limit_s: float) -> list[dict[str, object]]:
    """The sends the simulator accepted, once there is one a lead (or the limit passed)."""
    deadline = time.monotonic() + limit_s
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(f"{sim_url}/_sim/outbox") as answer:
                sent: list[dict[str, object]] = (await answer.json())["messages"]
            if len(sent) >= leads or time.monotonic() > deadline:
                return sent
            await asyncio.sleep(0.5)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> None:
    with fresh_database(args.db) as env:
        asyncio.run(prepare(env))
        port = free_port()
        sim = simulator_config(port)
        with SimulatorThread(sim) as simulator:
            full = product_env(env, sim, simulator.base_url)
            full["OVENAI_WEBHOOK_PROCESS_IN_SERVE"] = str(args.processing == "serve").lower()
            procs = [
                start(["serve", "--port", str(port)], full),
                start(["worker"], full),
            ]
            try:
                asyncio.run(wait_up(f"http://127.0.0.1:{port}/health/live"))
                time.sleep(1.0)
                asked = asyncio.run(drive(simulator.base_url, args.leads, args.seconds))
                sent = asyncio.run(collect(simulator.base_url, args.leads, args.drain_limit))
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.wait(timeout=30)
    report(args, asked, sent)


def report(
    args: argparse.Namespace,
    asked: dict[str, float],
    sent: list[dict[str, object]],
) -> None:
    latencies = []
    wrong = 0
    for record in sent:
        body = record["body"]
        assert isinstance(body, dict)
        to = str(body.get("to") or body.get("recipient"))
        template = body.get("template", {})
        if not isinstance(template, dict) or template.get("name") != "welcome_new_lead_he":
            wrong += 1
            continue
        at = record["at"]
        assert isinstance(at, float | int)
        latencies.append((float(at) - asked[to]) * 1000)
    print(
        f"db={args.db} processing={args.processing} leads={args.leads} over {args.seconds:.0f} s"
        f" box loop {box_speed_s()} s load {os.getloadavg()}"
    )
    if not latencies:
        print("no welcome was sent")
        return
    print(
        f"  welcomes accepted by the simulator: {len(latencies)} of {args.leads}"
        f" (other sends: {wrong}); latency p50 {statistics.median(latencies):,.0f} ms"
        f" p90 {percentile(latencies, 0.9):,.0f} ms p99 {percentile(latencies, 0.99):,.0f} ms"
        f" max {max(latencies):,.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--processing", choices=("serve", "worker"), default="serve")
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--drain-limit", type=float, default=60.0, help="seconds to wait")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
