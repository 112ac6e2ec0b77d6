"""`make bench`: every benchmark of bench/README.md once, with the figures it compares.

Each step is a separate process, loopback only, bounded in time. Pass `--quick` for a
short smoke run; the recorded figures come from the commands in bench/README.md.
"""

from __future__ import annotations

import subprocess
import sys

STEPS: list[list[str]] = [
    ["-m", "bench.client_throughput", "--requests", "60000", "--in-flight", "64"],
    ["-m", "bench.webhooks.ack", "--db", "sqlite", "--app", "both"],
    ["-m", "bench.webhooks.ack", "--db", "postgresql", "--app", "product"],
    ["-m", "bench.webhooks.apply", "--db", "sqlite", "--messages", "3000"],
    ["-m", "bench.outbound.run", "--db", "sqlite", "--workers", "1", "--cap", "1000"],
    ["-m", "bench.outbound.run", "--db", "postgresql", "--workers", "2", "--cap", "1000"],
    ["-m", "bench.media", "--db", "sqlite"],
]
QUICK: list[list[str]] = [
    ["-m", "bench.client_throughput", "--requests", "5000", "--in-flight", "64"],
    ["-m", "bench.webhooks.apply", "--db", "sqlite", "--messages", "500"],
    ["-m", "bench.outbound.run", "--db", "sqlite", "--workers", "1", "--messages", "2000"],
]


def main(argv: list[str]) -> int:
    """Run the steps in order; stop at the first that fails."""
    for step in QUICK if "--quick" in argv else STEPS:
        print("$ python", " ".join(step), flush=True)
        if subprocess.run([sys.executable, *step], check=False).returncode != 0:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
