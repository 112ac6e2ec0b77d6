"""The server's memory while 100 MB request bodies are refused (the body-size limit).

Starts the product (uvicorn, one process, the options of `ovenai serve`) on a fresh SQLite
database, samples its resident memory (VmRSS) every 10 ms, and posts 100 MB bodies to
/api/v1/leads without a token: half with Content-Length, half chunked. Before the limit the
route read each body whole before answering 401; now each is answered 413.

    .venv/bin/python -m bench.body_limit --bodies 6
    .venv/bin/python -m bench.body_limit --bodies 6 --limit 200000000   # as if no limit
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.process import free_port, start_listening
from bench.webhooks.common import fresh_database

MIB = 1024 * 1024
CHUNK = b"x" * (256 * 1024)


def rss_mib(pid: int) -> float:
    """The process's resident memory in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakSampler(threading.Thread):
    """Samples a process's RSS until stopped; keeps the highest reading."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        """Sample every 10 ms."""
        while not self.done.wait(0.01):
            self.peak = max(self.peak, rss_mib(self.pid))


def body(total: int) -> Iterator[bytes]:
    """`total` bytes in 256 KiB parts, made as they are sent (the client holds none)."""
    for _ in range(total // len(CHUNK)):
        yield CHUNK


def post(url: str, *, chunked: bool) -> tuple[int, str]:
    """One unauthenticated 100 MB POST; (status, how it was sent)."""
    headers = {"content-type": "application/json"}
    if not chunked:
        headers["content-length"] = str(100 * MIB)
    try:
        answer = httpx.post(url, content=body(100 * MIB), headers=headers, timeout=60)
    except httpx.TransportError as exc:  # the server closed before the client finished
        return 0, f"{type(exc).__name__}"
    return answer.status_code, "chunked" if chunked else "content-length"


def main(argv: list[str]) -> int:
    """Run the measurement and print one line per body and the RSS summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bodies", type=int, default=6)
    parser.add_argument("--limit", type=int, help="OVENAI_MAX_BODY_BYTES (default: the product's)")
    args = parser.parse_args(argv)
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "bench.webhooks.serve:product_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--no-proxy-headers", "--log-level", "warning",
    ]  # fmt: skip
    with fresh_database("sqlite") as env:
        os.environ.update(env)
        if args.limit:
            os.environ["OVENAI_MAX_BODY_BYTES"] = str(args.limit)
        server = start_listening(command, port)
        try:
            measure(f"http://127.0.0.1:{port}/api/v1/leads", server.pid, args.bodies)
        finally:
            server.terminate()
            server.wait(timeout=15)
    return 0


def measure(url: str, pid: int, bodies: int) -> None:
    """Post the bodies while sampling; print the statuses and RSS before, peak and after."""
    httpx.get(url.replace("/api/v1/leads", "/health"), timeout=10)
    before = rss_mib(pid)
    sampler = PeakSampler(pid)
    sampler.start()
    for number in range(bodies):
        status, how = post(url, chunked=number % 2 == 1)
        print(f"body {number + 1}: 100 MiB {how} -> {status}", flush=True)
    sampler.done.set()
    sampler.join()
    after = rss_mib(pid)
    peak = max(sampler.peak, after)
    print(f"server RSS MiB: before {before:.1f}, peak {peak:.1f}, after {after:.1f}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
