"""Acknowledged webhooks per second: signed status POSTs over loopback, each stored (sealed,
committed) before its 200. The product runs in its own process (uvicorn, uvloop, httptools,
one worker, the in-process processor ON); ``wrk`` drives the load from another process.

    .venv/bin/python -m bench.webhooks.ack --db sqlite --seconds 15 --connections 64
    .venv/bin/python -m bench.webhooks.ack --db postgresql --seconds 15 --connections 64
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

from sqlalchemy import create_engine, text

from bench.webhooks.common import fresh_database, settings_from, signature, status_body
from ovenai.db import sync_url

PATH = "/api/webhooks/whatsapp"


def serve(port: int) -> None:
    """The child side: the real product app on loopback."""
    import uvicorn

    from ovenai.web.app import create_app

    app = create_app(settings_from(dict(os.environ)))
    if os.environ.get("BENCH_NO_PROCESSOR"):
        app.state.webhooks.processor = None  # acknowledgement path alone
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


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


def stored(url: str) -> dict[str, int]:
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM webhook_events GROUP BY status"))
        found = {status: int(count) for status, count in rows}
    engine.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--bodies", type=int, default=5000)
    args = parser.parse_args()
    with fresh_database(args.db) as env, tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(lua_script(args.bodies))
        lua.flush()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        child = [sys.executable, "-m", "bench.webhooks.ack", "--serve", str(port)]
        proc = subprocess.Popen(child, env={**os.environ, **env})
        try:
            wait_listening(port, proc)
            cmd = [
                "wrk",
                "-t1",
                f"-c{args.connections}",
                f"-d{args.seconds}s",
                "--latency",
                "-s",
                lua.name,
                f"http://127.0.0.1:{port}{PATH}",
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            time.sleep(2)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        report(args, out, stored(env["DATABASE_URL"]))


def report(args: argparse.Namespace, out: str, rows: dict[str, int]) -> None:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    total = re.search(r"(\d+) requests in", out).group(1)  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    print(out)
    print(f"db={args.db} connections={args.connections} seconds={args.seconds}")
    print(
        f"acknowledged/s={rps:,.0f} p50={p50} p99={p99} requests={total} "
        f"non-2xx={non2xx.group(1) if non2xx else 0} stored rows={rows}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    else:
        main()
