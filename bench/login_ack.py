"""Webhook acknowledgement latency while 40 logins run at once (target: p99 < 25 ms).

The product runs in its own process (uvicorn, one worker, webhook processing in-process as
``ovenai serve`` runs it) on a fresh database with 40 users. The client sends signed status
webhooks one after another and times each 200: first for ``--seconds`` alone, then for
``--seconds`` while another process keeps 40 logins in flight (bursts of 40 concurrent
right-password logins, each user from its own loopback address so the per-address throttle
stays out of it). Argon2 on the event loop would hold every acknowledgement behind it.

    .venv/bin/python -m bench.login_ack --db sqlite --seconds 10

``--src`` serves the product from another checkout's ``src/`` (before/after on the same
machine state), as in ``bench.webhooks.ack``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event

import httpx

from bench.login_timing import PASSWORD, create_users
from bench.process import box_speed_s, free_port
from bench.webhooks.ack import wait_listening
from bench.webhooks.common import fresh_database, signature, status_body
from ovenai.endpoints import WEBHOOK_PATH

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
LOGINS = 40


@contextmanager
def product(db: str, src: str | None) -> Iterator[str]:
    """The served product with LOGINS users (user{i}@bench.example), on a fresh database."""
    with fresh_database(db) as env:
        asyncio.run(create_users(env, [f"user{i}@bench.example" for i in range(LOGINS)]))
        port = free_port()
        run_env = {**os.environ, **env}
        if src:
            run_env["PYTHONPATH"] = f"{src}{os.pathsep}{os.getcwd()}"
        command = [
            sys.executable, "-m", "uvicorn", "bench.webhooks.serve:product_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
            "--http", "httptools", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        proc = subprocess.Popen(command, env=run_env)
        try:
            wait_listening(port, proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=30)


async def _login_forever(url: str, user: int, stop: Event, codes: Counter[int]) -> None:
    """One user signing in again and again, from its own loopback address."""
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{user + 2}")
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=60) as client:
        while not stop.is_set():
            client.cookies.clear()  # a new browser each time: a fresh session and CSRF token
            page = (await client.get("/login")).text
            form = {"email": f"user{user}@bench.example", "password": PASSWORD}
            form["csrf"] = CSRF.search(page).group(1)  # type: ignore[union-attr]
            codes[(await client.post("/login", data=form)).status_code] += 1


def login_load(url: str, stop: Event, report: multiprocessing.SimpleQueue[str]) -> None:
    """LOGINS logins in flight until ``stop``; reports the status codes seen."""
    codes: Counter[int] = Counter()

    async def run() -> None:
        await asyncio.gather(*(_login_forever(url, i, stop, codes) for i in range(LOGINS)))

    asyncio.run(run())
    report.put(str(dict(codes)))


def acknowledgements(url: str, seconds: float, first: int) -> list[float]:
    """Milliseconds of each webhook POST sent one after another for ``seconds``."""
    times: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            raw = status_body(first + len(times))
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature(raw)}
            started = time.perf_counter()
            status = client.post(WEBHOOK_PATH, content=raw, headers=headers).status_code
            times.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise SystemExit(f"a webhook was answered {status}")
    return times


def show(label: str, times: list[float]) -> None:
    p99 = statistics.quantiles(times, n=100)[98]
    print(
        f"{label:16} {len(times):5} acks: p50 {statistics.median(times):6.2f} ms, "
        f"p99 {p99:6.2f} ms, max {max(times):7.2f} ms",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--src", help="serve the product from another tree's src/ (before/after)")
    args = parser.parse_args()
    print(f"db={args.db} logins={LOGINS} seconds={args.seconds} box_speed_s={box_speed_s()}")
    with product(args.db, args.src) as url:
        show("alone", acknowledgements(url, args.seconds, first=0))
        stop = multiprocessing.Event()
        report: multiprocessing.SimpleQueue[str] = multiprocessing.SimpleQueue()
        load = multiprocessing.Process(target=login_load, args=(url, stop, report))
        load.start()
        time.sleep(1.0)  # every login client connected and in flight
        show(f"{LOGINS} logins", acknowledgements(url, args.seconds, first=1_000_000))
        stop.set()
        load.join(timeout=60)
        print(f"login answers during the run: {report.get()}")


if __name__ == "__main__":
    main()
