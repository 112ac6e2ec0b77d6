"""Acknowledged webhooks per second: signed status POSTs over loopback, each stored (sealed,
committed) before its 200, compared in the same run with the reference endpoint
(:mod:`bench.webhooks.reference`: signature + raw INSERT, nothing else).

Each server runs in its own process (uvicorn, uvloop, httptools, access log off) on a fresh
database; ``wrk`` drives the load from another process. Runs alternate between the apps
(``--repeat`` rounds) and the medians are reported.

    .venv/bin/python -m bench.webhooks.ack --db sqlite --repeat 3
    .venv/bin/python -m bench.webhooks.ack --db postgresql --repeat 3 --processing separate

``--processing``: ``in-process`` (the ``ovenai serve`` default), ``separate`` (serve with
OVENAI_WEBHOOK_PROCESS_IN_SERVE=false plus a processor process, as ``ovenai worker``
runs it) or ``off`` (the acknowledgement path alone; bodies stay pending). ``--src`` serves
the product from another checkout's ``src/`` (e.g. ``git archive HEAD~1 src``), for a
before/after measured on the same machine state.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from sqlalchemy import create_engine, text

from bench.process import free_port
from bench.webhooks.common import fresh_database, signature, status_body
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.engines import sync_url

APPS = {
    "product": "bench.webhooks.serve:product_app",
    "reference": "bench.webhooks.reference:app",
}


@dataclass
class Run:
    """One wrk run against one app."""

    app: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    rows: dict[str, int]
    drain_s: float | None
    seconds: int

    @property
    def applied_per_s(self) -> float | None:
        """Bodies processed per second, from the start of the load until none was pending."""
        if self.drain_s is None:
            return None
        return self.rows.get("processed", 0) / (self.seconds + self.drain_s)


def lua_script(bodies: int) -> str:
    """A wrk script cycling through pre-signed bodies (wrk cannot compute HMACs)."""
    lines = ["local bodies = {}", "local sigs = {}"]
    for n in range(bodies):
        raw = status_body(n, ts=1767000060 + n)
        lines.append(f"bodies[{n + 1}] = [==[{raw.decode()}]==]")
        lines.append(f'sigs[{n + 1}] = "{signature(raw)}"')
    lines += [
        "local i = 0",
        "request = function()",
        f"  i = (i % {bodies}) + 1",
        '  return wrk.format("POST", nil, {["Content-Type"] = "application/json", '
        '["X-Hub-Signature-256"] = sigs[i]}, bodies[i])',
        "end",
    ]
    return "\n".join(lines) + "\n"


def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def count_rows(url: str, table: str) -> dict[str, int]:
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        if table == "reference_events":
            found = {
                "stored": int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            }
        else:
            rows = conn.execute(text(f"SELECT status, count(*) FROM {table} GROUP BY status"))
            found = {status: int(count) for status, count in rows}
    engine.dispose()
    return found


def server_command(app: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", APPS[app], "--factory" if app == "product" else "",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def start_processes(
    app: str, args: argparse.Namespace, env: dict[str, str], port: int
) -> list[subprocess.Popen[bytes]]:
    """The server, and the separate processor process when asked for."""
    in_serve = "true" if args.processing == "in-process" else "false"
    env = {**os.environ, **env, "OVENAI_WEBHOOK_PROCESS_IN_SERVE": in_serve}
    if args.src:
        env["PYTHONPATH"] = f"{args.src}{os.pathsep}{os.getcwd()}"
    command = [part for part in server_command(app, port, args.workers) if part]
    procs = [subprocess.Popen(command, env=env)]
    if app == "product" and args.processing == "separate":
        procs.append(subprocess.Popen([sys.executable, "-m", "bench.webhooks.serve"], env=env))
    return procs


def wait_drained(url: str, limit: float = 120.0) -> float | None:
    """Seconds until nothing is pending (processing on), or None after ``limit``."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if count_rows(url, "webhook_events").get("pending", 0) == 0:
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def measure(app: str, args: argparse.Namespace, lua: str) -> Run:
    """One app on a fresh database: wrk for ``--seconds``, then count what was stored."""
    with fresh_database(args.db) as env:
        port = free_port()
        procs = start_processes(app, args, env, port)
        try:
            wait_listening(port, procs[0])
            time.sleep(0.5)
            out = run_wrk(args, lua, port)
            drain = None
            if app == "product" and args.processing != "off":
                drain = wait_drained(env["DATABASE_URL"])
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
        table = "webhook_events" if app == "product" else "reference_events"
        if args.verbose:
            print(out)
        return parse_wrk(app, out, count_rows(env["DATABASE_URL"], table), drain, args.seconds)


def run_wrk(args: argparse.Namespace, lua: str, port: int) -> str:
    cmd = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s",
        "--latency", "-s", lua, f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(app: str, out: str, rows: dict[str, int], drain: float | None, seconds: int) -> Run:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    return Run(app, rps, _ms(p50), _ms(p99), total, errors, rows, drain, seconds)


def show(run: Run) -> None:
    drained = ""
    if run.drain_s is not None:
        drained = f" drained {run.drain_s:.1f} s after the load, applied {run.applied_per_s:,.0f}/s"
    print(
        f"  {run.app:9} {run.rps:8,.0f}/s p50={run.p50_ms:6.2f} ms p99={run.p99_ms:7.2f} ms "
        f"requests={run.requests} non-2xx={run.errors} rows={run.rows}{drained}",
        flush=True,
    )


def summary(runs: list[Run], app: str) -> str:
    mine = [run for run in runs if run.app == app]
    rps = statistics.median(run.rps for run in mine)
    p50 = statistics.median(run.p50_ms for run in mine)
    p99 = statistics.median(run.p99_ms for run in mine)
    line = f"{app:9} median of {len(mine)}: {rps:8,.0f}/s p50={p50:.2f} ms p99={p99:.2f} ms"
    applied = [run.applied_per_s for run in mine if run.applied_per_s is not None]
    if applied:
        line += f" applied {statistics.median(applied):,.0f}/s"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--app", choices=("both", "product", "reference"), default="both")
    parser.add_argument(
        "--processing", choices=("in-process", "separate", "off"), default="in-process"
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--src", help="serve the product from another tree's src/ (before/after)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bodies", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    apps = ["reference", "product"] if args.app == "both" else [args.app]
    print(
        f"db={args.db} processing={args.processing} workers={args.workers} "
        f"connections={args.connections} seconds={args.seconds} load={os.getloadavg()}"
    )
    runs: list[Run] = []
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(lua_script(args.bodies))
        lua.flush()
        for _ in range(args.repeat):
            for app in apps:
                runs.append(measure(app, args, lua.name))
                show(runs[-1])
    for app in apps:
        print(summary(runs, app))
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
