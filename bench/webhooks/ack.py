"""Acknowledged webhooks per second: signed status POSTs over loopback, each stored (sealed,
committed) before its 200, compared in the same run with the reference endpoint
(:mod:`bench.webhooks.reference`: signature + raw INSERT, nothing else).

Each server runs in its own process (uvicorn, uvloop, httptools, access log off) on a fresh
database; ``wrk`` drives the load from another process. Runs alternate between the apps
(``--repeat`` rounds) and the medians are reported.

    .venv/bin/python -m bench.webhooks.ack --db sqlite --repeat 3
    .venv/bin/python -m bench.webhooks.ack --db postgresql --repeat 3 --processing separate
    .venv/bin/python -m bench.webhooks.ack --kind text --db sqlite --processing separate

``--kind``: ``status`` (the default: 5,000 one-status bodies for messages the database does
not know, cycled, as every earlier figure was measured) or what leads send, each body
distinct (:mod:`bench.webhooks.bodies`): ``text``, ``media`` (an image with a caption),
``button`` (a tap on a template's quick-reply button) or ``mix`` (half statuses of sent
messages, half inbound), from ``--known`` seeded leads (:mod:`bench.webhooks.seed`) and a
``--new-share`` of first-time senders, who become leads.

``--processing``: ``in-process`` (the ``ovenai serve`` default), ``separate`` (serve with
OVENAI_WEBHOOK_PROCESS_IN_SERVE=false plus a processor process, as ``ovenai worker``
runs it) or ``off`` (the acknowledgement path alone; bodies stay pending). Whatever applies
the bodies runs the consent, score and automation hooks, with the default rules seeded, as
serve and the worker do (``--no-reactions``: no rules, and the separate processor without the
hooks, as every figure before 7 Dec 2026 was measured). ``--src`` serves
the product from another checkout's ``src/`` (e.g. ``git archive HEAD~1 src``), for a
before/after measured on the same machine state.

``--profile DIR`` samples the processing process (the separate one, or serve) with py-spy
(``py-spy`` on PATH or in the venv; not a dependency of the project) while wrk runs, into
``DIR/<kind>-<db>-<processing>-<n>.txt`` (``--format raw``), and has the separate processor
time its SQL statements and commits by kind (``...-sql.json``); ``bench.webhooks.profile``
turns both into the table of bench/README.md.

``--offered N`` offers about N requests a second instead of as many as the server answers
(each of the ``--connections`` waits after each answer, the wait corrected every second
toward N; the rate reached is the acknowledged rate printed), for a sustained run:

    .venv/bin/python -m bench.webhooks.ack --app product --kind text --db sqlite \
        --processing separate --offered 2000 --seconds 60

While the load lasts the bodies still pending are counted every ``--sample`` seconds: a
processor that keeps up holds that backlog flat (``backlog`` in the output: first, greatest
and last count).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.process import box_speed_s, cpu_seconds, free_port
from bench.webhooks.bodies import STREAMED, Plan, Written, write_stream, wrk_script
from bench.webhooks.common import NO_REACTIONS, fresh_database, signature, status_body
from bench.webhooks.seed import seed
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
    """Seconds from the end of the load until nothing was pending (None: processing off)."""
    seconds: int
    during_load: int = 0
    """Bodies processed when the load stopped."""
    leads_created: int = 0
    inbound_messages: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU seconds each process used during the load (serve, processor)."""
    backlog: list[int] = field(default_factory=list)
    """Bodies pending, counted every ``--sample`` seconds while the load lasted."""

    @property
    def applied_per_s(self) -> float | None:
        """Bodies processed per second, from the start of the load until none was pending."""
        if self.drain_s is None:
            return None
        return self.rows.get("processed", 0) / (self.seconds + self.drain_s)

    @property
    def applied_during_per_s(self) -> float:
        """Bodies processed per second while the load lasted (keeping up: equal to acked)."""
        return self.during_load / self.seconds


def _status(n: int) -> bytes:
    return status_body(n, ts=1767000060 + n)


def lua_script(bodies: int, body: Callable[[int], bytes] = _status) -> str:
    """A wrk script cycling through ``bodies`` pre-signed bodies, ``body(n)`` each (wrk
    cannot compute HMACs)."""
    lines = ["local bodies = {}", "local sigs = {}"]
    for n in range(bodies):
        raw = body(n)
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


def count_one(url: str, query: str) -> int:
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        found = int(conn.execute(text(query)).scalar_one())
    engine.dispose()
    return found


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
    app: str, args: argparse.Namespace, env: dict[str, str], port: int, label: str
) -> list[subprocess.Popen[bytes]]:
    """The server, and the separate processor process when asked for."""
    in_serve = "true" if args.processing == "in-process" else "false"
    env = {**os.environ, **env, "OVENAI_WEBHOOK_PROCESS_IN_SERVE": in_serve}
    if args.no_reactions:
        env[NO_REACTIONS] = "1"
    if args.profile:
        env["BENCH_SQL_TRACE"] = str(Path(args.profile) / f"{label}-sql.json")
    if args.src:
        env["PYTHONPATH"] = f"{args.src}{os.pathsep}{os.getcwd()}"
    command = [part for part in server_command(app, port, args.workers) if part]
    procs = [subprocess.Popen(command, env=env)]
    if app == "product" and args.processing == "separate":
        procs.append(subprocess.Popen([sys.executable, "-m", "bench.webhooks.serve"], env=env))
    return procs


def wait_drained(url: str, limit: float) -> float:
    """Seconds until nothing is pending (processing on), or ``limit`` (the rows then say
    how many were still pending)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if count_rows(url, "webhook_events").get("pending", 0) == 0:
            return time.monotonic() - started
        time.sleep(0.2)
    return limit


def start_profiler(args: argparse.Namespace, pid: int, label: str) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` for the load's duration (raw collapsed stacks)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = Path(args.profile) / f"{label}.txt"
    command = [
        spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(out),
        "--duration", str(args.seconds), "--rate", str(args.rate), "--threads",
    ]  # fmt: skip
    if args.native:
        command.append("--native")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def measure(app: str, args: argparse.Namespace, lua: str, label: str) -> Run:
    """One app on a fresh database: wrk for ``--seconds``, then count what was stored."""
    with fresh_database(args.db) as env:
        url = env["DATABASE_URL"]
        if args.kind in STREAMED and app == "product":
            seeding = seed(
                env, known=args.known, outbound=args.outbound, rules=not args.no_reactions
            )
            asyncio.run(seeding)
        port = free_port()
        procs = start_processes(app, args, env, port, label)
        try:
            wait_listening(port, procs[0])
            time.sleep(1.0 if len(procs) > 1 else 0.5)
            profiler = None
            if args.profile and app == "product" and args.processing != "off":
                profiler = start_profiler(args, procs[-1].pid, label)
            cpu_before = [cpu_seconds(proc.pid) for proc in procs]
            sampler = BacklogSampler(url, args.sample)
            if app == "product" and args.processing != "off":
                sampler.start()
            out = run_wrk(args, lua, port)
            sampler.stop()
            cpu = [cpu_seconds(p.pid) - was for p, was in zip(procs, cpu_before, strict=True)]
            drain = None
            during = 0
            if app == "product" and args.processing != "off":
                during = count_rows(url, "webhook_events").get("processed", 0)
                drain = wait_drained(url, args.drain_limit)
            if profiler is not None:
                profiler.wait(timeout=60)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
        table = "webhook_events" if app == "product" else "reference_events"
        if args.verbose:
            print(out)
        run = parse_wrk(app, out, count_rows(url, table), drain, args.seconds)
        run.during_load = during
        run.backlog = sampler.counts
        run.cpu_s = dict(zip(("serve", "processor")[: len(cpu)], cpu, strict=True))
        if app == "product" and args.kind in STREAMED:
            run.leads_created = count_one(url, "SELECT count(*) FROM leads") - args.known
            inbound = "SELECT count(*) FROM messages WHERE direction = 'inbound'"
            run.inbound_messages = count_one(url, inbound)
        return run


class BacklogSampler(threading.Thread):
    """Counts the pending bodies every ``every`` seconds until stopped."""

    def __init__(self, url: str, every: float) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.every = every
        self.counts: list[int] = []
        self._stopped = threading.Event()

    def run(self) -> None:
        engine = create_engine(sync_url(self.url))
        query = text("SELECT count(*) FROM webhook_events WHERE status = 'pending'")
        try:
            while not self._stopped.wait(self.every):
                with engine.connect() as conn:
                    self.counts.append(int(conn.execute(query).scalar_one()))
        finally:
            engine.dispose()

    def stop(self) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join()


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
        drained = (
            f" applied during the load {run.applied_during_per_s:,.0f}/s,"
            f" drained {run.drain_s:.1f} s after it, applied {run.applied_per_s:,.0f}/s"
            + (" (NOT DRAINED: the limit)" if run.rows.get("pending") else "")
        )
    extra = ""
    if run.leads_created or run.inbound_messages:
        extra = (
            f" inbound messages={run.inbound_messages} leads created={run.leads_created}"
            f" ({run.leads_created / (run.seconds + (run.drain_s or 0)):,.0f}/s)"
        )
    cpu = " ".join(f"{name} CPU {seconds:.1f} s" for name, seconds in run.cpu_s.items())
    if run.backlog:
        cpu += (
            f" backlog first={run.backlog[0]:,} greatest={max(run.backlog):,}"
            f" last={run.backlog[-1]:,} ({len(run.backlog)} counts)"
        )
    print(
        f"  {run.app:9} {run.rps:8,.0f}/s p50={run.p50_ms:6.2f} ms p99={run.p99_ms:7.2f} ms "
        f"requests={run.requests} non-2xx={run.errors} rows={run.rows}{drained}{extra} {cpu}",
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
        during = statistics.median(run.applied_during_per_s for run in mine)
        drains = [run.drain_s for run in mine if run.drain_s is not None]
        line += (
            f" applied {statistics.median(applied):,.0f}/s"
            f" (during the load {during:,.0f}/s, drain {statistics.median(drains):.1f} s)"
        )
    return line


def prepare_load(args: argparse.Namespace, folder: Path) -> str:
    """Write the wrk script (and the stream of distinct bodies it reads) into ``folder``."""
    lua = folder / "load.lua"
    if args.kind not in STREAMED:
        lua.write_text(lua_script(args.bodies))
        return str(lua)
    bodies = args.bodies or args.seconds * stream_rate(args)
    plan = Plan(args.kind, bodies, known=args.known, new_share=args.new_share)
    written: Written = write_stream(plan, folder / "stream.txt")
    args.outbound = written.outbound_messages
    print(
        f"stream: {written.bodies} distinct bodies {written.by_kind},"
        f" mean {written.mean_bytes:,.0f} bytes, {written.from_new_senders} from first-time"
        f" senders, {args.known} known leads,"
        f" {written.outbound_messages} sent messages seeded for the statuses"
    )
    lua.write_text(wrk_script(written.path, offered=args.offered, connections=args.connections))
    return str(lua)


def stream_rate(args: argparse.Namespace) -> int:
    """Bodies written per second of load: the offered rate and a fifth more, or as set."""
    return int(args.offered * 1.2) if args.offered else int(args.stream_rate)


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
    parser.add_argument(
        "--kind", choices=("status", "text", "media", "button", "mix"), default="status"
    )
    parser.add_argument("--known", type=int, default=2000, help="leads seeded (streamed kinds)")
    parser.add_argument("--new-share", type=float, default=0.10, help="first-time senders")
    parser.add_argument(
        "--bodies",
        type=int,
        default=0,
        help="distinct bodies (status: 5,000 cycled; streamed: --seconds x --stream-rate)",
    )
    parser.add_argument("--stream-rate", type=int, default=12_000, help="bodies per second")
    parser.add_argument("--offered", type=int, default=0, help="requests a second offered")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between counts")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--drain-limit", type=float, default=120.0, help="seconds to wait")
    parser.add_argument("--profile", help="py-spy the processing process into this folder")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--native", action="store_true", help="py-spy --native (C frames)")
    parser.add_argument(
        "--no-reactions",
        action="store_true",
        help="no default rules seeded, and the separate processor without the consent, score"
        " and automation hooks (serve always installs them); by default they run as in serve"
        " and the worker",
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if args.kind == "status" and not args.bodies:
        args.bodies = 5000
    if args.offered and args.kind not in STREAMED:
        parser.error("--offered takes a streamed kind (text, media, button, mix)")
    if args.kind in STREAMED and args.threads != 1:
        parser.error("streamed kinds take one wrk thread (each thread would post the same bodies)")
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    apps = ["reference", "product"] if args.app == "both" else [args.app]
    print(
        f"db={args.db} kind={args.kind} processing={args.processing} workers={args.workers} "
        f"connections={args.connections} seconds={args.seconds} load={os.getloadavg()} "
        f"box loop {box_speed_s()} s"
    )
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="ovenai-load-") as folder:
        lua = prepare_load(args, Path(folder))
        for round_ in range(args.repeat):
            for app in apps:
                label = f"{args.kind}-{args.db}-{args.processing}-{round_ + 1}"
                runs.append(measure(app, args, lua, label))
                show(runs[-1])
                streamed = args.bodies or args.seconds * stream_rate(args)
                if args.kind in STREAMED and runs[-1].requests > streamed:
                    print("  (the stream wrapped: bodies past its end were duplicates)")
    for app in apps:
        print(summary(runs, app))
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
