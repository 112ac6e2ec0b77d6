"""`make bench`: the headline benchmarks of bench/README.md once, and a dated summary table.

Each step is a separate process, loopback only, bounded in time (``--step-limit`` seconds
each; the whole run about 11 minutes on the shared 2-core box, under 15 even when other
work loads it: the first full run, with twice the sends and photos, took 17). Its output is
shown as it comes and its headline figures read from it: ``BENCH {...}`` lines
(:mod:`bench.peer.report`) or the step's usual result line. The table (figure, target,
measured, the box speed reading of :func:`bench.process.box_speed_s` taken just before the
step) is printed at the end and written to ``bench/results/<date>.md`` (``-2``, ``-3``...
for a second run that day), committed with the figures it backs so that runs can be
compared; ``--quick`` (a smoke run of every step, a few minutes) writes
``bench/results/<date>-quick.md.tmp`` instead, which git ignores.

    .venv/bin/python -m bench            # what `make bench` runs
    .venv/bin/python -m bench --quick
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.peer.report import Figure, read_figures
from bench.process import box_speed_s

RESULTS = Path(__file__).resolve().parent / "results"
Reader = Callable[[str], list[Figure]]


def _number(pattern: str, out: str) -> float:
    found = re.search(pattern, out)
    if found is None:
        raise ValueError(f"no {pattern!r} in the output")
    return float(found.group(1).replace(",", ""))


def applied(out: str) -> list[Figure]:
    """bench.webhooks.apply: status events applied a second (processing alone)."""
    rate = _number(r"status events applied/s=([\d,.]+)", out)
    return [Figure("status webhooks applied/s, SQLite", rate, "/s", ">= 5000")]


def outbound(db: str, cap: int) -> Reader:
    """bench.outbound.run: the sustained rate under the cap, nothing lost or sent twice."""

    def read(out: str) -> list[Figure]:
        result = json.loads(out[out.index("{") :])
        rate = float(result["sustained_per_s"])
        lost = int(result["messages"]) - int(result["sent"])
        twice = int(result["sent_twice"])
        name = f"outbound sends/s, {db}, {result['workers']} worker(s), cap {cap}"
        return [
            Figure(name, rate, "/s", f"{0.95 * cap:.0f}-{cap}"),
            Figure(f"outbound messages lost or sent twice, {db}", lost + twice, "", "= 0"),
        ]

    return read


def media(out: str) -> list[Figure]:
    """bench.media: photos stored, and the time from the lead's photo to the stored file."""
    stored, asked = (int(n) for n in re.search(r"stored (\d+) of (\d+)", out).groups())  # type: ignore[union-attr]
    p50 = _number(r"webhook -> stored: p50 ([\d,]+) ms", out)
    return [
        Figure("photos stored (of those sent), SQLite", 100 * stored / asked, "%", "= 100"),
        Figure("photo webhook -> stored file p50, SQLite", p50, "ms", ""),
    ]


@dataclass
class Step:
    """One benchmark process and how to read its headline figures."""

    command: list[str]
    read: Reader = read_figures
    figures: list[Figure] = field(default_factory=list)
    box_s: float = 0.0
    seconds: float = 0.0
    failure: str = ""


def steps(quick: bool) -> list[Step]:
    """The steps of a full run, or of a quick one (the same steps, shorter)."""
    if quick:
        receive = ["--repeat", "1", "--seconds", "3"]
        send = ["--messages", "2000", "--peer-messages", "500", "--search", "300", "--repeat", "1"]
        send += ["--concurrencies", "1,16"]
        messages, photos = "2000", ["--photos", "40", "--seconds", "5"]
    else:  # sized to end within 15 minutes on the shared 2-core box, however loaded
        receive, messages = ["--repeat", "2"], "10000"
        send = ["--messages", "10000", "--peer-messages", "4000", "--search", "1000"]
        photos = ["--photos", "500", "--seconds", "30"]
    return [
        Step(["-m", "bench.peer.receive", "--db", "sqlite", *receive]),
        Step(["-m", "bench.peer.receive", "--db", "postgresql", *receive]),
        Step(["-m", "bench.webhooks.apply", "--db", "sqlite", "--messages", "3000"], applied),
        Step(
            [
                "-m",
                "bench.outbound.run",
                "--db",
                "sqlite",
                "--workers",
                "1",
                "--cap",
                "1000",
                "--messages",
                messages,
            ],
            outbound("SQLite", 1000),
        ),  # fmt: skip
        Step(
            [
                "-m",
                "bench.outbound.run",
                "--db",
                "postgresql",
                "--workers",
                "2",
                "--cap",
                "1000",
                "--messages",
                messages,
            ],
            outbound("PostgreSQL", 1000),
        ),  # fmt: skip
        Step(["-m", "bench.peer.send", "--db", "postgresql", "--workers", "2", *send]),
        Step(["-m", "bench.media", "--db", "sqlite", *photos], media),
    ]


def run(step: Step, limit: float) -> None:
    """Run ``step``, its output shown and kept; read its figures (or why it failed)."""
    step.box_s = box_speed_s()
    print("$ python", " ".join(step.command), f"(box loop {step.box_s} s)", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, *step.command], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    timer = threading.Timer(limit, os.killpg, (proc.pid, signal.SIGKILL))
    timer.start()
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    code = proc.wait()
    timer.cancel()
    step.seconds = time.monotonic() - started
    if code != 0:
        step.failure = f"exit {code}" + (" (over the step limit)" if code == -9 else "")
    try:
        step.figures = step.read("".join(lines))
    except (ValueError, KeyError, AttributeError) as error:
        step.failure = step.failure or f"no figures: {error}"


def met(figure: Figure) -> str:
    """Whether the measured value meets the target (``>= x``, ``= x``, ``lo-hi``)."""
    target = figure.target.replace(",", "")
    if not target:
        return ""
    if target.startswith(">="):
        return "yes" if figure.value >= float(target[2:]) else "**no**"
    if target.startswith("="):
        return "yes" if figure.value == float(target[1:]) else "**no**"
    low, high = (float(n) for n in target.split("-"))
    return "yes" if low <= figure.value <= high else "**no**"


def table(done: list[Step], started: datetime.datetime, quick: bool, load: str) -> str:
    """The dated summary, as Markdown."""
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    ).stdout.strip()
    minutes = sum(step.seconds for step in done) / 60
    lines = [
        f"# `make bench`{' --quick' if quick else ''}, {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"Commit {commit or '?'}; {os.cpu_count()} cores, {platform.python_version()};"
        f" {minutes:.1f} minutes; load average before {load}, after"
        f" {', '.join(f'{n:.2f}' for n in os.getloadavg())} (a shared box: other work ran"
        " meanwhile). Box speed: seconds for ten million empty loop turns"
        " (bench.process.box_speed_s) just before the step; lower is faster.",
        "",
        "| figure | target | measured | met | box speed (s) |",
        "|---|---|---|---|---|",
    ]
    for step in done:
        for figure in step.figures:
            value = f"{figure.value:,.2f}" if figure.unit in ("x",) else f"{figure.value:,.0f}"
            unit = f" {figure.unit}" if figure.unit else ""
            target = f"{figure.target}{unit}" if figure.target else ""
            lines.append(
                f"| {figure.figure} | {target} | {value}{unit} | {met(figure)} | {step.box_s} |"
            )
        if step.failure:
            name = " ".join(step.command[1:4])
            lines.append(f"| {name} | | FAILED: {step.failure} | **no** | {step.box_s} |")
    return "\n".join(lines) + "\n"


def result_path(day: datetime.date, quick: bool) -> Path:
    """``bench/results/<date>.md`` (numbered after the first of the day), or a quick run's."""
    if quick:
        return RESULTS / f"{day}-quick.md.tmp"
    path, n = RESULTS / f"{day}.md", 1
    while path.exists():
        n += 1
        path = RESULTS / f"{day}-{n}.md"
    return path


def main(argv: list[str]) -> int:
    """Run every step (a failed one is marked in the table), then write the table."""
    quick = "--quick" in argv
    limit = 120.0 if quick else 360.0
    for arg in argv:
        if arg.startswith("--step-limit="):
            limit = float(arg.split("=", 1)[1])
    started = datetime.datetime.now(datetime.UTC)
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    done = []
    for step in steps(quick):
        run(step, limit)
        done.append(step)
    summary = table(done, started, quick, load)
    RESULTS.mkdir(exist_ok=True)
    path = result_path(started.date(), quick)
    path.write_text(summary)
    print("\n" + summary + f"\n(written to {path})", flush=True)
    return 1 if any(step.failure for step in done) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
