"""Sending the same templates to the simulator: OvenAI and pywa's async client, alternating.

    .venv/bin/python -m bench.peer.send --messages 20000 --repeat 2

First pywa's best concurrency is found (``--concurrencies``, ``--search`` sends each, a
fresh simulator each); then each round measures, one after the other, against a fresh
uncapped simulator (statuses off, loopback, its own process):

* ``outbox``: OvenAI's whole outbound path (:mod:`bench.outbound.run`, ``--cap 0``):
  ``--messages`` template messages queued to as many leads, sent by ``--workers`` worker
  processes that claim, pace, send and record every state change durably; the sustained
  rate from the first to the last accepted send;
* ``client``: OvenAI's Cloud API client alone (:mod:`bench.client_throughput`, 64 in
  flight), nothing stored, the like of what pywa does;
* ``pywa``: ``pywa_async.WhatsApp.send_template`` (:mod:`bench.peer.pywa_send`, in the
  peer venv) at that best concurrency, nothing stored, ``--peer-messages`` sends.

All send ``welcome_new_lead_he`` in Hebrew with two body parameters; the medians of the
rounds are reported with the ratios, and ``BENCH {...}`` lines for ``make bench``'s table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from typing import Any

from bench.peer.report import figure
from bench.peer.venv import HERE, peer_python, peer_version
from bench.process import box_speed_s, free_port, start_simulator
from ovenai.settings import SANDBOX_PHONE_NUMBER_ID


def run_step(command: list[str]) -> str:
    """Run one of the project's benchmarks; echo and return its output."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr[-4000:])
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:4])} failed ({done.returncode})")
    return done.stdout


def ours_outbox(args: argparse.Namespace) -> float:
    """OvenAI's queued sends a second, sustained (bench.outbound.run, uncapped)."""
    command = [
        sys.executable, "-m", "bench.outbound.run", "--db", args.db, "--workers",
        str(args.workers), "--cap", "0", "--messages", str(args.messages),
    ]  # fmt: skip
    out = run_step(command)
    result: dict[str, Any] = json.loads(out[out.index("{") :])
    if result["sent"] != args.messages or result["sent_twice"]:
        raise SystemExit(f"outbox: sent {result['sent']}, sent twice {result['sent_twice']}")
    return float(result["sustained_per_s"])


def ours_client(args: argparse.Namespace) -> float:
    """OvenAI's Cloud API client's sends a second (bench.client_throughput, 64 in flight)."""
    command = [
        sys.executable, "-m", "bench.client_throughput", "--requests", str(args.messages),
        "--in-flight", "64",
    ]  # fmt: skip
    out = run_step(command)
    return float(re.search(r"sends/s: ([\d,]+)", out).group(1).replace(",", ""))  # type: ignore[union-attr]


def pywa(args: argparse.Namespace, concurrency: int, messages: int, offset: int) -> float:
    """pywa's sends a second at ``concurrency`` against a fresh uncapped simulator."""
    port = free_port()
    sim = start_simulator(port)
    try:
        command = [
            str(args.peer_python), str(HERE / "pywa_send.py"), "--port", str(port),
            "--messages", str(messages), "--concurrency", str(concurrency),
            "--offset", str(offset), "--phone-id", SANDBOX_PHONE_NUMBER_ID,
        ]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        sim.terminate()
        sim.wait(10)
    result = json.loads(out.strip().splitlines()[-1])
    if result["errors"]:
        raise SystemExit(f"pywa: {result['errors']} sends refused")
    rate = float(result["sends"]) / float(result["seconds"])
    print(f"  pywa      {rate:8,.0f}/s concurrency={concurrency} sends={result['sends']}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--messages", type=int, default=20_000, help="OvenAI's, each round")
    parser.add_argument("--peer-messages", type=int, default=10_000, help="pywa's, each round")
    parser.add_argument("--concurrencies", default="1,4,16,64")
    parser.add_argument("--search", type=int, default=2000, help="sends at each concurrency")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    args.peer_python = peer_python()
    print(
        f"db={args.db} workers={args.workers} messages={args.messages}"
        f" pywa {peer_version(args.peer_python)} load={os.getloadavg()}"
        f" box loop {box_speed_s()} s",
        flush=True,
    )
    offset = 0
    tried: dict[int, float] = {}
    for concurrency in (int(c) for c in args.concurrencies.split(",")):
        tried[concurrency] = pywa(args, concurrency, args.search, offset)
        offset += args.search + 1
    best = max(tried, key=lambda c: tried[c])
    print(f"pywa's best concurrency: {best} ({tried[best]:,.0f}/s)", flush=True)
    rates: dict[str, list[float]] = {"outbox": [], "client": [], "pywa": []}
    for _ in range(args.repeat):
        rates["outbox"].append(ours_outbox(args))
        print(f"  outbox    {rates['outbox'][-1]:8,.0f}/s", flush=True)
        rates["client"].append(ours_client(args))
        rates["pywa"].append(pywa(args, best, args.peer_messages, offset))
        offset += args.peer_messages + 1
    median = {name: statistics.median(found) for name, found in rates.items()}
    print(
        f"medians of {args.repeat}: outbox {median['outbox']:,.0f}/s, client"
        f" {median['client']:,.0f}/s, pywa {median['pywa']:,.0f}/s (concurrency {best});"
        f" outbox / pywa {median['outbox'] / median['pywa']:.1f},"
        f" client / pywa {median['client'] / median['pywa']:.1f}; load {os.getloadavg()}"
    )
    db = "SQLite" if args.db == "sqlite" else "PostgreSQL"
    figure(f"template sends/s, OvenAI outbox (stored), {db}", median["outbox"], "/s")
    figure("template sends/s, OvenAI client (nothing stored)", median["client"], "/s")
    figure(f"template sends/s, pywa at concurrency {best} (nothing stored)", median["pywa"], "/s")
    figure(f"template sends, OvenAI outbox / pywa, {db}", median["outbox"] / median["pywa"], "x")
    figure("template sends, OvenAI client / pywa", median["client"] / median["pywa"], "x")


if __name__ == "__main__":
    main()
