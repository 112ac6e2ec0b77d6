"""Receiving the same signed webhooks: the bare reference, OvenAI and pywa, alternating.

    .venv/bin/python -m bench.peer.receive --db sqlite --repeat 2
    .venv/bin/python -m bench.peer.receive --db postgresql --repeat 2

Each round measures, one after the other on the same box, with the same ``wrk`` load (the
same 5,000 signed status bodies, cycled, 64 connections):

* ``reference``: :mod:`bench.webhooks.reference`, signature + raw INSERT, group-committed;
* ``product``: OvenAI's acknowledgement path, each body sealed and committed before its 200,
  processing in a separate processor process (``bench.webhooks.ack --processing separate``,
  as ``ovenai worker`` runs it, with the consent, score and automation hooks);
* ``pywa``: pywa's own webhook route on FastAPI + uvicorn (:mod:`bench.peer.pywa_server`,
  in the peer venv), signature checked with the app secret, each status parsed into pywa's
  ``MessageStatus`` and handed to a handler; nothing stored.

The bodies are :func:`bench.webhooks.common.status_body` with the ``contacts`` entry Meta's
status webhooks carry (``user_id``, ``wa_id``): pywa 4 reads it for every status and drops
a status without it, so the product and the reference get it too. The reference and the
product are measured by :func:`bench.webhooks.ack.measure` (fresh database each run); the
medians of the rounds are reported, with the ratios, and one ``BENCH {...}`` line per
headline figure for ``make bench``'s table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.peer.report import figure
from bench.peer.venv import HERE, peer_python, peer_version
from bench.process import box_speed_s, cpu_seconds, free_port
from bench.webhooks import ack
from bench.webhooks.common import APP_SECRET, signature, status_body
from ovenai.endpoints import WEBHOOK_PATH

APPS = ("reference", "product", "pywa")


def peer_body(n: int) -> bytes:
    """Status body ``n`` with the ``contacts`` entry of Meta's status webhooks."""
    body = json.loads(status_body(n, ts=1767000060 + n))
    value = body["entry"][0]["changes"][0]["value"]
    status = value["statuses"][0]
    contact = {"user_id": status["recipient_user_id"], "wa_id": status["recipient_id"]}
    value["contacts"] = [contact]
    return json.dumps(body, separators=(",", ":")).encode()


def lua_script(bodies: int) -> str:
    """A wrk script cycling through the pre-signed peer bodies (:func:`ack.lua_script`)."""
    return ack.lua_script(bodies, peer_body)


def ack_options(args: argparse.Namespace) -> argparse.Namespace:
    """The options of ``bench.webhooks.ack`` for :func:`ack.measure`, as its command line
    defaults them, with processing in a separate process (the worker's place)."""
    return argparse.Namespace(
        db=args.db, app="both", processing="separate", workers=1, src=None,
        seconds=args.seconds, connections=args.connections, threads=1, kind="status",
        known=0, new_share=0.0, bodies=args.bodies, stream_rate=0, offered=0, sample=5.0,
        repeat=1, drain_limit=args.drain_limit, profile=None, rate=200, native=False,
        no_reactions=False, verbose=False, outbound=0,
    )  # fmt: skip


def post(port: int, raw: bytes, sig: str) -> int:
    """The status code of one POST of ``raw`` signed ``sig`` to the webhook path."""
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sig}
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    request = urllib.request.Request(url, data=raw, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def measure_pywa(args: argparse.Namespace, lua: str, folder: Path) -> ack.Run:
    """pywa's server in the peer venv under the same wrk load; signatures checked first."""
    port = free_port()
    counted = folder / "pywa-handled.txt"
    command = [
        str(args.peer_python), str(HERE / "pywa_server.py"), "--port", str(port),
        "--secret", APP_SECRET, "--path", WEBHOOK_PATH, "--count-file", str(counted),
    ]  # fmt: skip
    proc = subprocess.Popen(command)
    try:
        ack.wait_listening(port, proc)
        time.sleep(0.5)
        raw = peer_body(0)
        good, bad = post(port, raw, signature(raw)), post(port, raw, "sha256=" + "0" * 64)
        if good != 200 or bad < 400:
            raise SystemExit(f"pywa: signed body answered {good}, forged one {bad}")
        cpu_before = cpu_seconds(proc.pid)
        out = ack.run_wrk(ack_options(args), lua, port)
        cpu = cpu_seconds(proc.pid) - cpu_before
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    handled = int(counted.read_text()) if counted.exists() else -1
    run = ack.parse_wrk("pywa", out, {"handled": handled}, None, args.seconds)
    run.cpu_s = {"serve": cpu}
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--bodies", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--drain-limit", type=float, default=120.0)
    args = parser.parse_args()
    args.peer_python = peer_python()
    print(
        f"db={args.db} processing=separate connections={args.connections}"
        f" seconds={args.seconds} pywa {peer_version(args.peer_python)}"
        f" load={os.getloadavg()} box loop {box_speed_s()} s",
        flush=True,
    )
    runs: list[ack.Run] = []
    options = ack_options(args)
    with tempfile.TemporaryDirectory(prefix="ovenai-peer-") as name:
        folder = Path(name)
        lua = folder / "load.lua"
        lua.write_text(lua_script(args.bodies))
        for round_ in range(args.repeat):
            for app in APPS:
                if app == "pywa":
                    runs.append(measure_pywa(args, str(lua), folder))
                else:
                    runs.append(ack.measure(app, options, str(lua), f"peer-{round_ + 1}"))
                ack.show(runs[-1])
    rps = {app: statistics.median(r.rps for r in runs if r.app == app) for app in APPS}
    for app in APPS:
        print(ack.summary(runs, app))
    failed = sum(r.errors for r in runs)
    lost = [r.rows for r in runs if r.app == "product" and r.rows.get("pending")]
    share = rps["product"] / rps["reference"]
    print(
        f"product / reference {share:.0%} (goal >= 75 %); product / pywa"
        f" {rps['product'] / rps['pywa']:.2f}; reference / pywa"
        f" {rps['reference'] / rps['pywa']:.2f}; non-2xx {failed}; load {os.getloadavg()}"
    )
    db = "SQLite" if args.db == "sqlite" else "PostgreSQL"
    figure(f"webhook ack/s, reference, {db}", rps["reference"], "/s")
    figure(f"webhook ack/s, OvenAI (stored), {db}", rps["product"], "/s")
    figure(f"webhook ack/s, pywa (nothing stored), {db}", rps["pywa"], "/s")
    figure(f"webhook ack, OvenAI / reference, {db}", 100 * share, "%", target=">= 75")
    figure(f"webhook ack, OvenAI / pywa, {db}", rps["product"] / rps["pywa"], "x")
    if failed or lost:
        raise SystemExit(f"non-2xx answers: {failed}; not drained: {lost}")


if __name__ == "__main__":
    main()
