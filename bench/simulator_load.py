"""How many sends per second the simulator absorbs, and its CPU per send (loopback only).

The simulator runs in its own process, served as ``python -m ovenai.simulator`` serves it
(one uvicorn worker, statuses off, no cap); the load comes from ``wrk`` when installed
(``apt-get install wrk``), else from an aiohttp load generator in this process. The
simulator's CPU time per send is read from ``/proc`` (Linux). ``--stack fastapi`` serves
the same send handler through FastAPI instead, to compare the two.

    .venv/bin/python -m bench.simulator_load --seconds 10 --connections 64
    .venv/bin/python -m bench.simulator_load --stack fastapi --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp
import orjson
from fastapi import FastAPI, Request, Response

from bench.process import free_port, start_listening

TOKEN = "sim-access-token"
PHONE_ID = "100000000000001"
BODY = {
    "messaging_product": "whatsapp",
    "to": "+972501234567",
    "type": "template",
    "template": {
        "name": "welcome_new_lead_he",
        "language": {"code": "he"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "נועה"}, {"type": "text", "text": "הרצל"}],
            }
        ],
    },
}


def fastapi_app() -> Any:
    """The send path of the simulator behind FastAPI (for the stack comparison)."""
    from ovenai.simulator.config import SimulatorConfig
    from ovenai.simulator.messaging import handle_send
    from ovenai.simulator.state import SimulatorState

    state = SimulatorState(SimulatorConfig(mps_cap=None, statuses=False))
    app = FastAPI()

    @app.post("/{version}/{node}/messages")
    async def send(version: str, node: str, request: Request) -> Response:
        answer = handle_send(state, orjson.loads(await request.body()))
        return Response(orjson.dumps(answer), media_type="application/json")

    @app.get("/_sim/stats")
    async def stats() -> Response:
        return Response(orjson.dumps(state.stats()), media_type="application/json")

    return app


def serve(stack: str, port: int) -> None:
    """Serve the chosen stack in this process (the child side of the benchmark)."""
    import uvicorn

    from ovenai.simulator import SimulatorConfig
    from ovenai.simulator.server import run_simulator

    if stack != "fastapi":
        run_simulator(SimulatorConfig(mps_cap=None, statuses=False), "127.0.0.1", port)
        return
    uvicorn.run(
        fastapi_app(),
        host="127.0.0.1",
        port=port,
        http="httptools",
        ws="none",
        access_log=False,
        log_level="warning",
    )


def start_server(stack: str, port: int) -> subprocess.Popen[bytes]:
    """This script's own server mode, with the chosen stack."""
    command = [sys.executable, "-m", "bench.simulator_load", "--serve", stack, "--port", str(port)]
    return start_listening(command, port)


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of a process so far (None where /proc is missing)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, seconds: int, connections: int) -> tuple[float, int]:
    script = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(BODY))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {TOKEN}"\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", handle.name, url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    os.unlink(handle.name)
    print(out)
    if "Non-2xx" in out:
        print("WARNING: some answers were not 2xx")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return rate, int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]


async def run_aiohttp(url: str, seconds: int, connections: int) -> tuple[float, int]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    data = orjson.dumps(BODY)
    done = answered = 0
    stop = time.monotonic() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done, answered
        while time.monotonic() < stop:
            async with session.post(url, data=data, headers=headers) as answer:
                await answer.read()
                done += answer.status == 200
                answered += 1

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(worker(session) for _ in range(connections)))
        return done / (time.monotonic() - started), answered


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", choices=("starlette", "fastapi"), default="starlette")
    parser.add_argument("--serve", choices=("starlette", "fastapi"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--generator", choices=("auto", "wrk", "aiohttp"), default="auto")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    seconds = min(args.seconds, 60)
    port = free_port()
    proc = start_server(args.stack, port)
    url = f"http://127.0.0.1:{port}/v25.0/{PHONE_ID}/messages"
    try:
        use_wrk = args.generator == "wrk" or (args.generator == "auto" and shutil.which("wrk"))
        cpu_before = cpu_seconds(proc.pid)
        rate, answered = (
            run_wrk(url, seconds, args.connections)
            if use_wrk
            else asyncio.run(run_aiohttp(url, seconds, args.connections))
        )
        cpu_after = cpu_seconds(proc.pid)
        stats = orjson.loads(
            subprocess.run(
                ["curl", "-s", f"http://127.0.0.1:{port}/_sim/stats"],
                capture_output=True,
                check=True,
            ).stdout
        )
    finally:
        proc.terminate()
        proc.wait(10)
    print(
        f"stack={args.stack} generator={'wrk' if use_wrk else 'aiohttp'} "
        f"connections={args.connections} seconds={seconds}"
    )
    print(
        f"sends/s: {rate:,.0f}  accepted: {stats['counts'].get('accepted', 0):,}  "
        f"max accepted in one second: {stats['max_accepted_per_second']:,}"
    )
    if cpu_before is not None and cpu_after is not None and answered:
        print(f"simulator CPU per send: {(cpu_after - cpu_before) / answered * 1e6:,.0f} us")


if __name__ == "__main__":
    main()
