"""How long the nesting-depth guard takes on a hostile 3 MB body (moved from a unit test).

tests/ingest/receive/test_depth_guard.py asserts what the guard answers; how fast it answers
is measured here. Bodies, each 3 MB (the webhook limit is 4 MiB): 1.5 million ``[`` then as
many ``]`` (the worst case: every byte a bracket, so the count short-cut does not apply);
the same brackets inside one JSON string (they must be ignored); and escapes throughout.

    .venv/bin/python -m bench.unit_moved_depth_guard --repeat 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.process import box_speed_s
from ovenai.ingest.receive.depth_guard import is_too_deep

HALF = 1_500_000
BODIES = {
    "nested brackets": b"[" * HALF + b"]" * HALF,
    "brackets in a string": b'["' + b"[" * (2 * HALF - 4) + b'"]',
    "escaped quotes": b'["' + b'\\"[' * (2 * HALF // 3 - 2) + b'"]',
}


def timed(body: bytes, repeat: int) -> list[float]:
    """Milliseconds of each of `repeat` calls of the guard on `body`."""
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        is_too_deep(body)
        took.append((time.perf_counter() - started) * 1000)
    return took


def main(argv: list[str]) -> int:
    """Print median and worst milliseconds per body."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    print(f"box loop 10M: {box_speed_s()} s")
    for name, body in BODIES.items():
        took = timed(body, args.repeat)
        size = len(body) / 1e6
        print(
            f"{name} ({size:.1f} MB, too deep: {is_too_deep(body)}): "
            f"median {statistics.median(took):.1f} ms, max {max(took):.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
