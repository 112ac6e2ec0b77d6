"""Login timing: how long a wrong password takes for a known and for an unknown e-mail.

The product runs in its own process (uvicorn, one worker) on a fresh database with one user;
the client alternates wrong-password logins for that user's e-mail and for e-mails nobody
has, one at a time, and prints the medians. Flat timing means the two medians agree: a
login's duration does not tell whether the e-mail exists. The throttle counters are cleared
before each attempt (untimed), so the throttle never answers instead of the password check.

    .venv/bin/python -m bench.login_timing --db sqlite --logins 50
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import create_engine, text

from bench.process import box_speed_s, free_port
from bench.webhooks.ack import wait_listening
from bench.webhooks.common import fresh_database, settings_from
from ovenai import auth
from ovenai.db import open_database
from ovenai.engines import sync_url
from ovenai.models import Role

PASSWORD = "bench password, long enough"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def create_users(env: dict[str, str], emails: list[str]) -> None:
    """Users with PASSWORD in the bench database."""
    db = open_database(settings_from(env))
    await db.start()
    try:
        for email in emails:
            await auth.create_user(db, email=email, role=Role.AGENT, password=PASSWORD)
    finally:
        await db.dispose()


@contextmanager
def product(db: str, emails: list[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """The served product (base URL, environment) with these users, on a fresh database."""
    with fresh_database(db) as env:
        asyncio.run(create_users(env, emails))
        port = free_port()
        command = [
            sys.executable, "-m", "uvicorn", "bench.webhooks.serve:product_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
            "--http", "httptools", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        proc = subprocess.Popen(command, env={**os.environ, **env})
        try:
            wait_listening(port, proc)
            yield f"http://127.0.0.1:{port}", env
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def clear_throttle(env: dict[str, str]) -> None:
    """Forget every counted failure (the bench measures the check, not the refusal)."""
    engine = create_engine(sync_url(env["DATABASE_URL"]))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM throttle_counts"))
    engine.dispose()


def timed_login(client: httpx.Client, token: str, email: str) -> float:
    """Milliseconds for one wrong-password login (which must answer 401)."""
    form = {"email": email, "password": "not the password", "csrf": token}
    started = time.perf_counter()
    status = client.post("/login", data=form).status_code
    elapsed = (time.perf_counter() - started) * 1000
    if status != 401:
        raise SystemExit(f"a wrong password was answered {status}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--logins", type=int, default=50, help="of each kind")
    args = parser.parse_args()
    print(f"db={args.db} logins={args.logins} box_speed_s={box_speed_s()}")
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    with product(args.db, ["known@bench.example"]) as (url, env):
        with httpx.Client(base_url=url, timeout=30) as client:
            token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
            for n in range(args.logins):
                for kind, email in (("known", "known@bench.example"), ("unknown", f"n{n}@x.y")):
                    clear_throttle(env)
                    times[kind].append(timed_login(client, token, email))
    for kind, values in times.items():
        median, worst = statistics.median(values), max(values)
        print(f"{kind:8} e-mail: median {median:6.1f} ms, max {worst:6.1f} ms")


if __name__ == "__main__":
    main()
