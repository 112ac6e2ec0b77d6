"""Starting the processes a benchmark measures: a free loopback port, a server that answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

SIMULATOR = [sys.executable, "-m", "ovenai.simulator"]


def box_speed_s() -> float:
    """Seconds for ten million empty loop turns at module level: how fast the box runs now.

    The same loop as ``python -c "for i in range(10_000_000): pass"``, the reading earlier
    figures in bench/README.md quote. The shared machine's speed drifts (that reading was
    1.3–2.0 s on slow days, ~0.3 s on fast ones) and every throughput figure moves with it,
    so a benchmark reports this beside its figures.
    """
    loop = compile("for i in range(10_000_000): pass", "<box speed>", "exec")
    started = time.perf_counter()
    exec(loop, {})  # a constant loop, timed at module level (globals, as with -c)
    return round(time.perf_counter() - started, 2)


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a live process has used so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_listening(
    command: list[str],
    port: int,
    *,
    timeout: float = 15.0,
    env: dict[str, str] | None = None,
    quiet: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `command` and return once something listens on 127.0.0.1:`port`; `quiet`: its
    output is dropped (kept when ``BENCH_VERBOSE`` is set)."""
    dropped = quiet and not os.environ.get("BENCH_VERBOSE")
    output = subprocess.DEVNULL if dropped else None
    proc = subprocess.Popen(command, env=env, stdout=output, stderr=output)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{' '.join(command[:4])} did not start listening on port {port}")


def start_simulator(
    port: int, *, cap: int = 0, webhook_url: str | None = None, status_batch: int = 1
) -> subprocess.Popen[bytes]:
    """The simulator on `port` with this messages-per-second cap (0: none); statuses off,
    or, given a `webhook_url`, each accepted send's sent, delivered and read posted there,
    signed with the simulator's app secret, up to `status_batch` statuses a webhook (Meta
    sends one at a time or batches them, most often under load)."""
    options = ["--port", str(port), "--mps-cap", str(cap)]
    if webhook_url is None:
        options += ["--statuses", "off"]
    else:
        options += ["--statuses", "on", "--webhook-url", webhook_url]
        options += ["--webhook-batch-size", str(status_batch)]
    return start_listening([*SIMULATOR, *options], port)
