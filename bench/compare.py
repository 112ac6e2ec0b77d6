"""Before and after in one command: the headline benchmarks of two trees, alternated.

A restructuring must not cost speed. This runs the figures of bench/README.md (webhook
acknowledgement on SQLite and PostgreSQL, outbound capped and uncapped on both) for an
earlier commit and for the working tree (or a later commit), taking turns round by round so
that both sides see the same state of the (shared, drifting) machine, and prints each
figure's median and range:

    .venv/bin/python -m bench.compare --base 75bc699 --rounds 3 [--after COMMIT]

Each commit is unpacked with ``git archive`` (src, bench, migrations) into a
temporary folder and run with the same interpreter and installed packages, its own code
first on ``PYTHONPATH``; its benchmark scripts are its own, so each side measures itself the
way it did at the time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from bench.process import box_speed_s

ROOT = Path(__file__).resolve().parents[1]
_ACK = re.compile(r"^product\s+median of \d+:\s+([\d,]+)/s", re.M)


def _ack_figure(out: str) -> float:
    found = _ACK.search(out)
    if found is None:
        raise ValueError("no 'product median' line in the acknowledgement benchmark's output")
    return float(found.group(1).replace(",", ""))


def _outbound_figure(out: str) -> float:
    result = json.loads(out[out.index("{") :])
    lost = result["messages"] - result["sent"] - result["failed"]
    if lost or result["sent_twice"] or result["failed"]:
        raise ValueError(f"outbound run not clean: {lost} lost, {result['sent_twice']} twice")
    return float(result["sustained_per_s"])


@dataclass(frozen=True)
class Benchmark:
    """One figure: the module and arguments that produce it, and how to read it."""

    label: str
    args: tuple[str, ...]
    read: Callable[[str], float]


BENCHMARKS = (
    Benchmark(
        "webhook ack/s, SQLite",
        ("bench.webhooks.ack", "--db", "sqlite", "--app", "product"),
        _ack_figure,
    ),
    Benchmark(
        "webhook ack/s, PostgreSQL",
        ("bench.webhooks.ack", "--db", "postgresql", "--app", "product"),
        _ack_figure,
    ),
    Benchmark(
        "outbound/s, SQLite, cap 1,000",
        ("bench.outbound.run", "--db", "sqlite", "--workers", "1", "--cap", "1000"),
        _outbound_figure,
    ),
    Benchmark(
        "outbound/s, SQLite, uncapped",
        ("bench.outbound.run", "--db", "sqlite", "--workers", "1", "--cap", "0"),
        _outbound_figure,
    ),
    Benchmark(
        "outbound/s, PostgreSQL 2 workers, cap 1,000",
        ("bench.outbound.run", "--db", "postgresql", "--workers", "2", "--cap", "1000"),
        _outbound_figure,
    ),
    Benchmark(
        "outbound/s, PostgreSQL 2 workers, uncapped",
        ("bench.outbound.run", "--db", "postgresql", "--workers", "2", "--cap", "0"),
        _outbound_figure,
    ),
)


def unpack(revision: str, into: Path) -> Path:
    """The revision's src, bench and migrations, unpacked into ``into``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "src", "bench", "migrations"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def measure(tree: Path, benchmark: Benchmark) -> float:
    """Run one benchmark with ``tree``'s code and return its figure."""
    env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree}"}
    command = [sys.executable, "-m", *benchmark.args]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(benchmark.args)} failed in {tree}:\n{done.stderr[-2000:]}")
    return benchmark.read(done.stdout)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):8,.0f} ({min(values):,.0f}–{max(values):,.0f})"


def main(argv: list[str] | None = None) -> int:
    """Alternate base and working tree for every benchmark; print medians and ranges."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the earlier commit (e.g. 75bc699)")
    parser.add_argument("--after", help="a later commit instead of the working tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="run only benchmarks whose label contains this")
    args = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if not args.only or args.only in b.label]
    figures: dict[tuple[str, str], list[float]] = {}
    print(f"box loop before: {box_speed_s()} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="ovenai-compare-") as folder:
        before = unpack(args.base, Path(folder) / "before")
        after = unpack(args.after, Path(folder) / "after") if args.after else ROOT
        trees = {"before": before, "after": after}
        for round_number in range(1, args.rounds + 1):
            for benchmark in chosen:
                for side, tree in trees.items():
                    figure = measure(tree, benchmark)
                    figures.setdefault((benchmark.label, side), []).append(figure)
                    print(f"round {round_number} {side:6} {benchmark.label}: {figure:,.0f}")
    print(f"box loop after: {box_speed_s()} s\n")
    later = args.after or "working tree"
    print(f"| figure | before ({args.base}) | after ({later}) |\n| --- | --- | --- |")
    for benchmark in chosen:
        old, new = figures[(benchmark.label, "before")], figures[(benchmark.label, "after")]
        print(f"| {benchmark.label} | {_spread(old)} | {_spread(new)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
